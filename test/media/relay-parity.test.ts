// The same ng data-plane conversation with voxgate's relay and with a real RTPengine (userspace, --table=-1):
// the same error reasons for bad requests, and a call whose RTP flows both ways (latched) with the same counts
// in the query and delete replies, read through the same keys. Under CI a missing RTPengine fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNgClient, NgErrorReply, type NgClient, type NgDictionary } from '../../src/media/index.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { mPort, party, rtp, sdp, until, type Party } from '../helpers/rtp-party.js';

type Stats = Record<string, number>;
/** A tag's first stream stats, the way the gateway reads them (`media-anchor.ts`). */
function sentBy(reply: NgDictionary, tag: string): Stats | undefined {
  const tags = reply.tags as Record<string, { medias?: { streams?: { stats?: Stats }[] }[] }> | undefined;
  return tags?.[tag]?.medias?.[0]?.streams?.[0]?.stats;
}

async function reason(p: Promise<NgDictionary>): Promise<string> {
  try {
    const reply = await p;
    return `ok${reply.warning ? ` (warning: ${String(reply.warning)})` : ''}`;
  } catch (err) {
    if (err instanceof NgErrorReply) return err.message;
    throw err;
  }
}

/** Requests with something wrong or missing; the reply (error reason, or a warning) must be RTPengine's. */
const BAD_REQUESTS: [string, string, NgDictionary][] = [
  ['offer without call-id', 'offer', { 'from-tag': 'a', sdp: sdp(4000) }],
  ['offer without from-tag', 'offer', { 'call-id': 'p-x', sdp: sdp(4000) }],
  ['offer without SDP', 'offer', { 'call-id': 'p-x', 'from-tag': 'a' }],
  [
    'answer for an unknown call',
    'answer',
    { 'call-id': 'p-none', 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(4000) },
  ],
  ['query for an unknown call', 'query', { 'call-id': 'p-none' }],
  ['delete for an unknown call', 'delete', { 'call-id': 'p-none', 'from-tag': 'a' }],
  [
    'offer with direction as a string',
    'offer',
    { 'call-id': 'p-dir', 'from-tag': 'a', sdp: sdp(4000), direction: 'up' },
  ],
];

const results = new Map<RelayKind, Map<string, string>>();

for (const kind of ['voxgate', 'rtpengine'] as const) {
  describe(`ng data plane on ${kind}`, { skip: relaySkip(kind) }, () => {
    let relay: RunningRelay;
    let ng: NgClient;
    let a: Party;
    let b: Party;
    before(async () => {
      relay = await startRelay(kind);
      ng = createNgClient({ host: '127.0.0.1', port: relay.ngPort, timeoutMs: 1000, retries: 2 });
      a = await party();
      b = await party();
    });
    after(async () => {
      a?.close();
      b?.close();
      await ng?.close();
      await relay?.stop();
    });

    test('bad requests get error replies (or, deleting an unknown call, a warning)', async () => {
      const seen = new Map<string, string>();
      for (const [name, command, args] of BAD_REQUESTS) {
        seen.set(name, await reason(ng.request(command, args)));
      }
      results.set(kind, seen);
    });

    test('a call: offer, answer, RTP both ways with latching, query and delete counts', async () => {
      const callId = `parity-${kind}`;
      const flags = { replace: ['origin', 'session-connection'], ICE: 'remove' };
      const offer = await ng.request('offer', {
        'call-id': callId,
        'from-tag': 'ta',
        sdp: sdp(a.port),
        ...flags,
      });
      const answer = await ng.request('answer', {
        'call-id': callId,
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port),
        ...flags,
      });
      assert.match(String(offer.sdp), /^c=IN IP4 127\.0\.0\.1\r$/m);
      for (let seq = 1; seq <= 10; seq++) {
        a.socket.send(rtp(seq, 0xa), mPort(answer.sdp), '127.0.0.1');
        b.socket.send(rtp(seq, 0xb), mPort(offer.sdp), '127.0.0.1');
        await new Promise((r) => setTimeout(r, 5));
      }
      await until(() => a.got.length === 10 && b.got.length === 10);
      assert.ok(
        a.gotFrom.every((f) => f.port === mPort(answer.sdp)),
        'symmetric: a hears from where it sends',
      );
      const queried = await ng.request('query', { 'call-id': callId });
      assert.equal(sentBy(queried, 'ta')?.packets, 10);
      assert.equal(sentBy(queried, 'tb')?.packets, 10);
      assert.ok((sentBy(queried, 'ta')?.bytes ?? 0) >= 10 * 172);
      const deleted = await ng.request('delete', { 'call-id': callId, 'from-tag': 'ta' });
      assert.equal(sentBy(deleted, 'ta')?.packets, 10);
      assert.ok(!((await ng.request('list')).calls as unknown[]).includes(callId), 'the call is gone');
    });
  });
}

describe('voxgate and RTPengine agree', { skip: relaySkip('rtpengine') }, () => {
  test('on the error reason of every bad request', () => {
    const ours = results.get('voxgate');
    const theirs = results.get('rtpengine');
    assert.ok(ours && theirs, 'both relays ran');
    assert.deepEqual(Object.fromEntries(ours), Object.fromEntries(theirs));
  });
});
