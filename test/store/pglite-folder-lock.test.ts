// One process at a time in an embedded database folder (src/store/database/folder-lock.ts): a second process
// opening the folder of a live one is refused with STORE_DATA_DIR_IN_USE and changes nothing; a lock left by a
// process that is gone is taken over; closing releases it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../../src/store/database/pglite-database.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Opens the folder in another Node.js process: its one line of outcome (`opened` or the error's code). */
function openElsewhere(dataDir: string): Promise<string> {
  const script = `
    import { openPglite } from ${JSON.stringify(join(ROOT, 'src/store/database/pglite-database.ts'))};
    try {
      const db = await openPglite(${JSON.stringify(dataDir)});
      await db.query("INSERT INTO t VALUES ('elsewhere')");
      await db.close();
      console.log('opened');
    } catch (err) {
      console.log(err.code ?? err.message);
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

describe('the embedded database folder is one process’s at a time', () => {
  const dirs: string[] = [];
  const folder = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-lock-'));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('a second process is refused while the first has it open, and opens it once closed', async () => {
    const dataDir = await folder();
    const db = await openPglite(dataDir);
    await db.exec('CREATE TABLE t (v text)');
    await db.query("INSERT INTO t VALUES ('first')");
    assert.equal(await openElsewhere(dataDir), 'STORE_DATA_DIR_IN_USE');
    // The refused process wrote nothing: the first one's rows are all there is.
    assert.deepEqual((await db.query<{ v: string }>('SELECT v FROM t')).rows, [{ v: 'first' }]);
    await db.close();
    assert.equal(existsSync(join(dataDir, 'pglite.lock')), false, 'closing removes the lock');
    assert.equal(await openElsewhere(dataDir), 'opened');
    const again = await openPglite(dataDir);
    assert.deepEqual((await again.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows, [
      { v: 'elsewhere' },
      { v: 'first' },
    ]);
    await again.close();
  });

  test('a lock left by a process that is gone is taken over', async () => {
    const dataDir = await folder();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const pid = Number(gone.stdout.toString());
    writeFileSync(
      join(dataDir, 'pglite.lock'),
      JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00.000Z' }),
    );
    const db = await openPglite(dataDir);
    assert.equal((await db.query<{ x: number }>('SELECT 1 AS x')).rows[0]?.x, 1);
    await db.close();
  });

  test('the error names the process that holds the folder', async () => {
    const dataDir = await folder();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(
        join(dataDir, 'pglite.lock'),
        JSON.stringify({ pid: holder.pid, host: hostname(), since: '2026-12-03T00:00:00.000Z' }),
      );
      await assert.rejects(openPglite(dataDir), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_DATA_DIR_IN_USE');
        assert.match(err.message, new RegExp(`in use by process ${holder.pid}`));
        return true;
      });
    } finally {
      holder.kill();
    }
  });
});
