import { readFile } from 'node:fs/promises';
import { ConfigError } from './config-error.js';

/**
 * Reads a dotenv-style file: `KEY=VALUE` lines, `#` comments, blank lines, optional `export ` prefix,
 * values optionally in single or double quotes (double quotes understand \n, \" and \\).
 * A line that is none of these is a one-line ConfigError naming the file and line.
 */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw new ConfigError('CONFIG_ENV_FILE', `cannot read env file ${path}: ${reason}`);
  }
  return parseEnvText(text, path);
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

export function parseEnvText(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const match = LINE.exec(line);
    if (!match) {
      throw new ConfigError(
        'CONFIG_ENV_FILE',
        `${source}:${index + 1}: expected KEY=VALUE, got "${line.trim()}"`,
      );
    }
    const [, key, raw] = match as unknown as [string, string, string];
    out[key] = unquote(raw, `${source}:${index + 1}`);
  });
  return out;
}

function unquote(raw: string, where: string): string {
  const quote = raw[0];
  if (quote !== '"' && quote !== "'") {
    const hash = raw.search(/\s#/);
    return hash === -1 ? raw : raw.slice(0, hash).trimEnd();
  }
  const end = raw.lastIndexOf(quote);
  if (end === 0) throw new ConfigError('CONFIG_ENV_FILE', `${where}: unterminated ${quote} quote`);
  const body = raw.slice(1, end);
  if (quote === "'") return body;
  return body.replace(/\\([n"\\])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}
