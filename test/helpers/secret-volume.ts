import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Kubernetes Secret volume as the kubelet's atomic writer lays it out: `..<timestamp>/<key>` files, `..data` a
 * symlink to that directory, and each `<key>` a symlink to `..data/<key>`. An update writes a new directory,
 * points `..data_tmp` at it and renames that over `..data` (one atomic step), then removes the old directory.
 */
export class SecretVolume {
  private generation = 0;
  private current = '';
  private constructor(readonly dir: string) {}

  static async create(initial: Readonly<Record<string, string>>): Promise<SecretVolume> {
    const volume = new SecretVolume(await mkdtemp(join(tmpdir(), 'voxgate-secrets-')));
    await volume.update(initial);
    for (const name of Object.keys(initial)) await symlink(join('..data', name), join(volume.dir, name));
    return volume;
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  /** `VOXGATE_<NAME>_FILE` of every key, for voxgate's environment. */
  env(names: readonly string[]): Record<string, string> {
    return Object.fromEntries(names.map((n) => [`${n}_FILE`, this.file(n)]));
  }

  async update(next: Readonly<Record<string, string>>): Promise<void> {
    const version = `..2026_12_03_00_00_0${this.generation++}.${randomBytes(4).toString('hex')}`;
    await mkdir(join(this.dir, version));
    for (const [name, value] of Object.entries(next)) {
      await writeFile(join(this.dir, version, name), value, { mode: 0o600 });
    }
    await symlink(version, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.current) await rm(join(this.dir, this.current), { recursive: true });
    this.current = version;
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** voxgate_secret_reloads_total of one setting and outcome, from a /metrics exposition (0 when absent). */
export async function secretReloads(httpUrl: string, secret: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('voxgate_secret_reloads_total{') &&
        l.includes(`secret="${secret}"`) &&
        l.includes(`outcome="${outcome}"`),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}
