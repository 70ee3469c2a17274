import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * Whether a command-line tool is installed. In CI a missing tool fails the test (the validation must run
 * there); locally the test skips with a message saying what to install.
 */
export function requireTool(t: TestContext, command: string, install: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
  if (found) return true;
  if (process.env.CI) throw new Error(`${command} is required in CI and is not installed (${install})`);
  t.skip(`${command} not installed (${install})`);
  return false;
}

/** Imports an npm package the validation needs, with the same CI-fails / locally-skips rule. */
export async function requirePackage<T>(t: TestContext, name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    if (process.env.CI)
      throw new Error(`npm package ${name} is required in CI (devDependency)`, { cause: err });
    t.skip(`npm package ${name} not installed (npm install --save-dev ${name})`);
    return undefined;
  }
}

/** Parses a KEY=value env file (comments and blank lines ignored) as config/environments/*.env are written. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    out[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return out;
}
