// Lookups gathered into queries of many keys: a turn's keys go together, at most maxInFlight queries of a group
// are out at once and what comes meanwhile waits for the next, groups do not wait for each other, a failure
// fails only the lookups of its query.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatchedLookup } from '../../src/gateway/batched-lookup.js';

/** A loadMany whose queries are answered by hand: each is recorded with its group and keys. */
function manualStore() {
  const queries: { group: string; keys: readonly string[]; answer(): void; fail(err: Error): void }[] = [];
  const loadMany = (group: string, keys: readonly string[]) =>
    new Promise<ReadonlyMap<string, string>>((resolve, reject) => {
      queries.push({
        group,
        keys,
        // Every key but those starting with "no" is found, as its upper case.
        answer: () =>
          resolve(new Map(keys.filter((k) => !k.startsWith('no')).map((k) => [k, k.toUpperCase()]))),
        fail: reject,
      });
    });
  return { queries, loadMany };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('batched lookup', () => {
  test("a turn's keys are one query; at most maxInFlight out; the rest go together in the next", async () => {
    const store = manualStore();
    const lookup = createBatchedLookup(store.loadMany, { maxInFlight: 2, maxBatch: 100 });
    const first = ['a', 'b', 'nobody', 'a'].map((k) => lookup('realm', k));
    await turn();
    assert.deepEqual(
      store.queries.map((q) => q.keys),
      [['a', 'b', 'nobody']],
      'one query, each key once',
    );
    const second = lookup('realm', 'c');
    await turn();
    const waiting = ['d', 'e', 'f'].map((k) => lookup('realm', k));
    await turn();
    assert.equal(store.queries.length, 2, 'two out; d, e and f wait');
    store.queries[0]!.answer();
    assert.deepEqual(await Promise.all(first), ['A', 'B', undefined, 'A']);
    await turn();
    assert.deepEqual(
      store.queries[2]!.keys,
      ['d', 'e', 'f'],
      'the waiting keys together, once one came back',
    );
    store.queries[1]!.answer();
    store.queries[2]!.answer();
    assert.equal(await second, 'C');
    assert.deepEqual(await Promise.all(waiting), ['D', 'E', 'F']);
  });

  test('maxBatch splits a long wait; groups have their own queries', async () => {
    const store = manualStore();
    const lookup = createBatchedLookup(store.loadMany, { maxInFlight: 1, maxBatch: 2 });
    const here = ['a', 'b', 'c'].map((k) => lookup('one.example', k));
    const there = lookup('two.example', 'a');
    await turn();
    assert.deepEqual(
      store.queries.map((q) => [q.group, q.keys]),
      [
        ['one.example', ['a', 'b']],
        ['two.example', ['a']],
      ],
    );
    store.queries[0]!.answer();
    await turn();
    assert.deepEqual(store.queries[2]!.keys, ['c']);
    store.queries[1]!.answer();
    store.queries[2]!.answer();
    assert.deepEqual(await Promise.all(here), ['A', 'B', 'C']);
    assert.equal(await there, 'A');
  });

  test('a failed query fails its own lookups only; the group goes on', async () => {
    const store = manualStore();
    const lookup = createBatchedLookup(store.loadMany, { maxInFlight: 1 });
    const failing = ['a', 'b'].map((k) => lookup('realm', k));
    await turn();
    const later = lookup('realm', 'c');
    store.queries[0]!.fail(new Error('connection reset'));
    for (const f of failing) await assert.rejects(f, /connection reset/);
    await turn();
    store.queries[1]!.answer();
    assert.equal(await later, 'C');
  });

  test('a loadMany that throws fails the lookups instead of the process', async () => {
    const lookup = createBatchedLookup<string>(() => {
      throw new Error('not connected');
    });
    await assert.rejects(lookup('realm', 'a'), /not connected/);
  });
});
