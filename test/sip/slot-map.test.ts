import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlotMap } from '../../src/sip/index.js';

describe('SlotMap (a Map whose entries are emptied when they go)', () => {
  it('answers get, has and size as a Map does', () => {
    const map = new SlotMap<string, { n: number }>();
    const one = { n: 1 };
    assert.equal(map.set('a', one), map);
    map.set('b', { n: 2 });
    assert.equal(map.get('a'), one);
    assert.equal(map.has('b'), true);
    assert.equal(map.has('c'), false);
    assert.equal(map.get('c'), undefined);
    assert.equal(map.size, 2);
  });

  it('replaces a value under the same key without a second entry', () => {
    const map = new SlotMap<string, number>();
    map.set('a', 1).set('a', 2);
    assert.equal(map.get('a'), 2);
    assert.equal(map.size, 1);
    assert.deepEqual([...map.entries()], [['a', 2]]);
  });

  it('forgets a deleted key, and says whether there was one', () => {
    const map = new SlotMap<string, number>();
    map.set('a', 1).set('b', 2);
    assert.equal(map.delete('a'), true);
    assert.equal(map.delete('a'), false);
    assert.equal(map.has('a'), false);
    assert.equal(map.get('a'), undefined);
    assert.equal(map.size, 1);
    map.set('a', 3);
    assert.deepEqual(
      [...map.entries()],
      [
        ['b', 2],
        ['a', 3],
      ],
    );
  });

  it('iterates values and entries in insertion order, and empties on clear', () => {
    const map = new SlotMap<object, string>();
    const k1 = {};
    const k2 = {};
    map.set(k1, 'one').set(k2, 'two');
    assert.deepEqual([...map.values()], ['one', 'two']);
    assert.deepEqual(
      [...map.entries()],
      [
        [k1, 'one'],
        [k2, 'two'],
      ],
    );
    map.clear();
    assert.equal(map.size, 0);
    assert.deepEqual([...map.values()], []);
    assert.equal(map.get(k1), undefined);
  });

  it('keeps a value deleted during iteration out of the rest of it', () => {
    const map = new SlotMap<string, number>();
    map.set('a', 1).set('b', 2).set('c', 3);
    const seen: number[] = [];
    for (const v of map.values()) {
      seen.push(v);
      if (v === 1) map.delete('b');
    }
    assert.deepEqual(seen, [1, 3]);
  });
});
