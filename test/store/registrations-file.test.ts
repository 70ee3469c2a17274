import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMemorySharedState,
  createRegistrationsWriter,
  journalFileOf,
  loadRegistrations,
  MAX_EVENT_LOOP_SHARE,
  type Binding,
  type LoadedRegistrations,
} from '../../src/store/shared-state/index.js';

function binding(contact: string, ttlMs: number, extra: Partial<Binding> = {}): Binding {
  return {
    contact,
    expiresAt: Date.now() + ttlMs,
    source: { address: '192.0.2.10', port: 5062 },
    transport: 'udp',
    callId: 'reg-1',
    cseq: 1,
    tenantId: 't1',
    gateway: '192.0.2.1:5060',
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `done()` holds, for at most `boundMs`: a timer under test may run late on a busy machine. */
async function until(done: () => boolean, boundMs = 5000): Promise<void> {
  for (const stop = Date.now() + boundMs; !done() && Date.now() < stop;) await sleep(5);
}

/**
 * A writer over `live` (AOR -> its one binding) with a journal: `put` sets a binding and tells the writer, and
 * `snapshots()` counts the whole snapshots taken.
 */
function journaledWriter(file: string) {
  const live = new Map<string, Binding>();
  let snapshots = 0;
  const writer = createRegistrationsWriter({
    file,
    intervalMs: 10,
    snapshot: () => {
      snapshots++;
      return [...live].map(([aor, b]) => ({ aor, binding: b }));
    },
    lookup: (aor, contact) => {
      const b = live.get(aor);
      return b?.contact === contact ? b : undefined;
    },
  });
  const put = (aor: string, b: Binding) => {
    live.set(aor, b);
    writer.changed(aor, b.contact);
  };
  return { writer, live, put, snapshots: () => snapshots };
}

function withFolder(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxgate-registrations-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe('registrations file (memory shared state persistence)', () => {
  test(
    'bindings survive a close and a new start; expired ones are not restored',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const first = createMemorySharedState({ persistence: { file, intervalMs: 60_000 } });
      await first.registrations.put('sip:alice@acme.example', binding('sip:alice@192.0.2.10:5062', 60_000));
      await first.registrations.put(
        'sip:alice@acme.example',
        binding('sip:alice@192.0.2.20:5060', 60_000, { reach: 'contact', userAgent: 'Phone/1.0' }),
      );
      await first.registrations.put('sip:bob@acme.example', binding('sip:bob@192.0.2.11', 150));
      await first.registrations.put('sip:carol@acme.example', binding('sip:carol@192.0.2.12', 60_000));
      await first.registrations.remove('sip:carol@acme.example', 'sip:carol@192.0.2.12');
      // The write-behind interval is a minute: only close writes, as on SIGTERM.
      assert.equal(existsSync(file), false);
      await first.close();
      assert.equal(existsSync(file), true);
      assert.deepEqual(readdirSync(dir), ['registrations.json'], 'no temporary file left');

      await sleep(200); // bob's binding expires while "the process is down"
      let loaded: LoadedRegistrations | undefined;
      const second = createMemorySharedState({ persistence: { file, onLoad: (l) => (loaded = l) } });
      try {
        assert.equal(loaded?.entries.length, 2);
        assert.equal(loaded?.expired, 1);
        const alice = await second.registrations.list('sip:alice@acme.example');
        assert.deepEqual(alice.map((b) => b.contact).sort(), [
          'sip:alice@192.0.2.10:5062',
          'sip:alice@192.0.2.20:5060',
        ]);
        assert.equal(alice.find((b) => b.reach === 'contact')?.userAgent, 'Phone/1.0');
        assert.deepEqual(await second.registrations.list('sip:bob@acme.example'), []);
        assert.deepEqual(await second.registrations.list('sip:carol@acme.example'), []);
        assert.equal((await second.registrations.listByGateway('192.0.2.1:5060')).length, 2);
        assert.equal((await second.registrations.listByTenant('t1')).length, 2);
      } finally {
        await second.close();
      }
    }),
  );

  test(
    'writes are batched: a flood of changes is one write per interval',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      let snapshots = 0;
      const writer = createRegistrationsWriter({
        file,
        intervalMs: 300,
        snapshot: () => {
          snapshots++;
          return [{ aor: 'sip:a@x', binding: binding('sip:a@192.0.2.1', 60_000, { cseq: snapshots }) }];
        },
      });
      for (let i = 0; i < 1000; i++) writer.changed();
      await until(() => snapshots > 0);
      assert.equal(snapshots, 1, 'the first change is written at once');
      for (let i = 0; i < 1000; i++) writer.changed();
      await until(() => false, 20);
      assert.equal(snapshots, 1, 'changes within the interval wait for its end');
      await until(() => snapshots > 1);
      assert.equal(snapshots, 2, 'then they are written together');
      await sleep(400);
      assert.equal(snapshots, 2, 'once: nothing changed since');
      writer.changed();
      await writer.close();
      assert.equal(snapshots, 3, 'close writes what is left without waiting');
      writer.changed();
      await sleep(400);
      assert.equal(snapshots, 3, 'nothing is written after close');
      assert.equal(loadRegistrations(file).entries[0]?.binding.cseq, 3);
    }),
  );

  test(
    'a snapshot slow to encode spaces the writes out: they take at most MAX_EVENT_LOOP_SHARE of the event loop',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const busyMs = 200;
      let encoded = 0;
      // A binding whose encoding takes `busyMs` (as 60,000 real ones would).
      const slow = {
        aor: 'sip:slow@x',
        binding: binding('sip:slow@y', 60_000),
        toJSON() {
          encoded += 1;
          const until = performance.now() + busyMs;
          while (performance.now() < until);
          return { aor: this.aor, binding: this.binding };
        },
      };
      const writer = createRegistrationsWriter({ file, intervalMs: 10, snapshot: () => [slow] });
      assert.equal(writer.spacingMs, 10);
      writer.changed();
      await writer.flush();
      assert.equal(encoded, 1);
      assert.ok(
        writer.spacingMs >= busyMs / MAX_EVENT_LOOP_SHARE,
        `spacing ${writer.spacingMs} ms after a ${busyMs} ms snapshot`,
      );
      writer.changed();
      await sleep(150); // far more than intervalMs, far less than the spacing
      assert.equal(encoded, 1, 'no second write within the spacing');
      await writer.close(); // close writes what is left at once
      assert.equal(encoded, 2);
      assert.deepEqual(
        loadRegistrations(file).entries.map((e) => e.aor),
        ['sip:slow@x'],
      );
    }),
  );

  test(
    'the time taken to take the snapshot counts towards the spacing, as its encoding does',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const busyMs = 100;
      const writer = createRegistrationsWriter({
        file,
        intervalMs: 10,
        snapshot: () => {
          const until = performance.now() + busyMs;
          while (performance.now() < until);
          return [{ aor: 'sip:a@x', binding: binding('sip:a@y', 60_000) }];
        },
      });
      writer.changed();
      await writer.flush();
      assert.ok(
        writer.spacingMs >= busyMs / MAX_EVENT_LOOP_SHARE,
        `spacing ${writer.spacingMs} ms after a ${busyMs} ms snapshot`,
      );
      await writer.close();
      assert.deepEqual(
        loadRegistrations(file).entries.map((e) => e.aor),
        ['sip:a@x'],
      );
    }),
  );

  test(
    'a snapshot larger than one write slice is written whole, expired bindings left out wherever they fall',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      // 2,500 bindings (three slices of 1,000), every third one expired — the first of a slice among them.
      const entries = Array.from({ length: 2500 }, (_, i) => ({
        aor: `sip:u${i}@x`,
        binding: binding(`sip:u${i}@y`, i % 3 === 0 ? -1 : 60_000),
      }));
      const writer = createRegistrationsWriter({ file, intervalMs: 10, snapshot: () => entries });
      writer.changed();
      await writer.close();
      const loaded = loadRegistrations(file);
      assert.equal(loaded.invalid, 0);
      assert.equal(loaded.expired, 0, 'expired ones were not written');
      assert.deepEqual(
        loaded.entries.map((e) => e.aor),
        entries.filter((_, i) => i % 3 !== 0).map((e) => e.aor),
      );
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).format, 'voxgate-registrations');
    }),
  );

  test(
    'between snapshots only the changed bindings are written, to the journal, and a start replays it',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const { writer, live, put, snapshots } = journaledWriter(file);
      for (const user of ['a', 'b', 'c']) put(`sip:${user}@x`, binding(`sip:${user}@y`, 60_000));
      await writer.flush();
      assert.equal(snapshots(), 1, 'the first write is a snapshot');
      put('sip:a@x', binding('sip:a@y', 60_000, { cseq: 2 }));
      live.delete('sip:b@x');
      writer.changed('sip:b@x', 'sip:b@y');
      put('sip:d@x', binding('sip:d@y', 60_000));
      await writer.flush();
      assert.equal(snapshots(), 1, 'the changes went to the journal');
      assert.equal(
        readFileSync(journalFileOf(file), 'utf8').trim().split('\n').length,
        4,
        'header and 3 records',
      );
      // As a start after a crash reads them: the snapshot, then the journal.
      const loaded = loadRegistrations(file);
      assert.deepEqual(loaded.entries.map((e) => `${e.aor} ${e.binding.cseq}`).sort(), [
        'sip:a@x 2',
        'sip:c@x 1',
        'sip:d@x 1',
      ]);
      assert.equal(loaded.invalid, 0);
      // A last line cut short by the crash is left out.
      writeFileSync(journalFileOf(file), readFileSync(journalFileOf(file), 'utf8') + '{"aor":"sip:e@x","bin');
      assert.equal(loadRegistrations(file).entries.length, 3);
      await writer.close();
      assert.equal(snapshots(), 2, 'close folds the journal into a snapshot');
      assert.deepEqual(readdirSync(dir), ['registrations.json'], 'and removes the journal');
      assert.deepEqual(
        loadRegistrations(file)
          .entries.map((e) => `${e.aor} ${e.binding.cseq}`)
          .sort(),
        ['sip:a@x 2', 'sip:c@x 1', 'sip:d@x 1'],
      );
    }),
  );

  test(
    'several contacts of one AOR changed between writes are each journaled once',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const live = new Map<string, Binding>();
      const writer = createRegistrationsWriter({
        file,
        intervalMs: 10,
        snapshot: () => [...live.values()].map((b) => ({ aor: 'sip:m@x', binding: b })),
        lookup: (aor, contact) => (aor === 'sip:m@x' ? live.get(contact) : undefined),
      });
      const put = (contact: string, cseq: number) => {
        live.set(contact, binding(contact, 60_000, { cseq }));
        writer.changed('sip:m@x', contact);
      };
      put('sip:m@one', 1);
      await writer.flush();
      // The one contact, a second one, the first again, a third one removed: three records.
      put('sip:m@one', 2);
      put('sip:m@two', 1);
      put('sip:m@one', 3);
      live.delete('sip:m@one');
      put('sip:m@three', 1);
      live.delete('sip:m@three');
      writer.changed('sip:m@x', 'sip:m@three');
      await writer.flush();
      const records = readFileSync(journalFileOf(file), 'utf8').trim().split('\n').slice(1);
      assert.deepEqual(
        records.map((line) => {
          const r = JSON.parse(line) as { binding?: Binding; removed?: string };
          return r.binding ? `${r.binding.contact} ${r.binding.cseq}` : `removed ${r.removed}`;
        }),
        ['removed sip:m@one', 'sip:m@two 1', 'removed sip:m@three'],
      );
      assert.deepEqual(
        loadRegistrations(file).entries.map((e) => e.binding.contact),
        ['sip:m@two'],
      );
      await writer.close();
    }),
  );

  test(
    'a journal is folded into a snapshot once it holds twice the snapshot; an older journal is not replayed',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      const journaled = journaledWriter(file);
      const { writer, snapshots } = journaled;
      const put = (aor: string, cseq: number) => journaled.put(aor, binding('sip:u@y', 60_000, { cseq }));
      put('sip:u0@x', 1);
      await writer.flush();
      const journal = journalFileOf(file);
      const firstJournal = readFileSync(journal, 'utf8');
      // 1,000 records (WRITE_SLICE, more than twice the one binding of the snapshot) in the journal ...
      for (let i = 0; i < 1000; i++) put(`sip:u${i}@x`, 2);
      await writer.flush();
      assert.equal(snapshots(), 1);
      // ... so the next write is a snapshot, with a journal of its own.
      put('sip:u0@x', 3);
      await writer.flush();
      assert.equal(snapshots(), 2);
      assert.equal(readFileSync(journal, 'utf8').split('\n').length, 2, 'a new journal: its header alone');
      // A journal of the generation before (as a crash between the two renames leaves it) is not replayed.
      writeFileSync(journal, `${firstJournal}${JSON.stringify({ aor: 'sip:u0@x', removed: 'sip:u@y' })}\n`);
      const loaded = loadRegistrations(file);
      assert.equal(loaded.entries.length, 1000);
      assert.equal(loaded.entries.find((e) => e.aor === 'sip:u0@x')?.binding.cseq, 3);
      await writer.close();
    }),
  );

  test(
    'a write failure is reported and retried',
    withFolder(async (dir) => {
      const file = join(dir, 'missing-folder', 'registrations.json');
      const errors: unknown[] = [];
      const writer = createRegistrationsWriter({
        file,
        intervalMs: 50,
        snapshot: () => [],
        onError: (err) => errors.push(err),
      });
      writer.changed();
      await until(() => errors.length >= 2);
      assert.ok(errors.length >= 2, `retried (${errors.length} failures)`);
      await writer.close();
    }),
  );

  test(
    'a damaged file is moved aside and the state starts empty',
    withFolder(async (dir) => {
      const file = join(dir, 'registrations.json');
      writeFileSync(file, '{"format":"voxgate-registrations","version":1,"bindings":[');
      const loaded = loadRegistrations(file);
      assert.deepEqual(loaded.entries, []);
      assert.ok(loaded.error?.movedTo, 'moved aside');
      assert.equal(existsSync(file), false);
      assert.match(readFileSync(loaded.error.movedTo, 'utf8'), /voxgate-registrations/);

      writeFileSync(
        file,
        JSON.stringify({
          format: 'voxgate-registrations',
          version: 1,
          bindings: [
            { aor: 'sip:a@x', binding: { contact: 42 } },
            { aor: 'sip:b@x', binding: binding('sip:b@y', 60_000) },
          ],
        }),
      );
      const partly = loadRegistrations(file);
      assert.equal(partly.invalid, 1);
      assert.deepEqual(
        partly.entries.map((e) => e.aor),
        ['sip:b@x'],
      );
    }),
  );
});
