/*
 * A parsed message's Call-ID and From/To tags outlive it (call tables, dialogs, event streams): they must not be
 * views of the message's header text, which would then stay alive with them (parse-message.ts, detachString).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseMessage } from '../../src/sip/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A request whose head holds `padding` bytes of an extension header besides its Call-ID and tags. */
function request(n: number, padding: number): Buffer {
  return Buffer.from(
    [
      'OPTIONS sip:gw.example.com SIP/2.0',
      `Via: SIP/2.0/UDP 198.51.100.17:5060;branch=z9hG4bK${n}`,
      'Max-Forwards: 70',
      `From: "Alice Example" <sip:alice@example.com>;tag=from-tag-of-message-${n}`,
      `To: <sip:gw.example.com>;tag=to-tag-of-message-number-${n}`,
      `Call-ID: call-id-of-message-number-${n}@pc33.example.com`,
      'CSeq: 1 OPTIONS',
      `X-Padding: ${'p'.repeat(padding)}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('the Call-ID and the From/To tags hold no reference to the header text', () => {
  // 256 KiB of header text per message, 10 MiB in all if the fields kept their texts alive (a text under 1 MB:
  // Node makes a longer one an external string, whose bytes the heap does not count).
  const count = 40;
  const padding = 1 << 18;
  const kept: string[] = [];
  const before = heapUsed();
  for (let n = 0; n < count; n++) {
    const m = parseMessage(request(n, padding), { datagram: true });
    kept.push(m.callId, m.fromTag ?? '', m.toTag ?? '');
  }
  const grew = heapUsed() - before;
  assert.equal(kept[0], 'call-id-of-message-number-0@pc33.example.com');
  assert.equal(kept[1], 'from-tag-of-message-0');
  assert.equal(kept[2], 'to-tag-of-message-number-0');
  assert.ok(grew < 4 * padding, `the fields kept ${grew} bytes alive`);
});
