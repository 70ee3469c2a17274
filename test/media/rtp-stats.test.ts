// RFC 3550 accounting of one stream with arrival times given, so loss and jitter have exact expected values.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpStats } from '../../src/media/index.js';
import { rtp } from '../helpers/rtp-party.js';

describe('RTP stream stats (RFC 3550 loss and jitter)', () => {
  test('packets on time have no jitter; one late by 10 ms gives J = D/16 (RFC 3550 §6.4.1)', () => {
    const s = new RtpStats();
    const t0 = 1_000_000;
    for (let i = 0; i < 10; i++) s.rtp(rtp(i, 1), t0 + i * 20);
    assert.equal(s.snapshot().jitterMs, 0);
    // 10 ms late at 8 kHz: |D| = 80 timestamp units, J = 0 + (80 - 0) / 16 = 5 units = 0.625 ms.
    s.rtp(rtp(10, 1), t0 + 10 * 20 + 10);
    assert.equal(s.snapshot().jitterMs, 0.63);
    // Back on time: |D| = 80 again, J = 5 + (80 - 5) / 16 = 9.6875 units = 1.2109 ms.
    s.rtp(rtp(11, 1), t0 + 11 * 20);
    assert.equal(s.snapshot().jitterMs, 1.21);
    assert.equal(s.snapshot().lost, 0);
    assert.equal(s.snapshot().packets, 12);
    assert.equal(s.snapshot().bytes, 12 * 172);
    assert.equal(s.snapshot().lastPacketAt, t0 + 11 * 20);
  });

  test('loss counts the gaps in extended sequence numbers across a wrap-around; duplicates are not negative loss', () => {
    const s = new RtpStats();
    let t = 0;
    for (const seq of [65530, 65531, 65532, 65534, 65535, 0, 1, 3, 4])
      s.rtp(rtp(seq, 1, seq * 160), (t += 20));
    // expected = 65536 + 4 - 65530 + 1 = 11, received 9.
    assert.equal(s.snapshot().lost, 2);
    for (let i = 1; i <= 3; i++) s.rtp(rtp(4, 1), t + i * 20);
    assert.equal(s.snapshot().lost, 0, 'duplicates offset the loss, never below zero');
  });

  test('a late (reordered) packet does not move the highest sequence number', () => {
    const s = new RtpStats();
    for (const [i, seq] of [100, 101, 103, 102, 104].entries()) s.rtp(rtp(seq, 1), i * 20);
    assert.equal(s.snapshot().lost, 0);
  });

  test('RTCP and non-RTP packets are counted but not analysed; wideband clock rates come from a=rtpmap', () => {
    const s = new RtpStats();
    s.setClockRates(new Map([[8, 8000]]));
    s.rtcp(Buffer.alloc(28), 5);
    s.rtp(Buffer.from('not rtp at all'), 6);
    const snap = s.snapshot();
    assert.equal(snap.rtcpPackets, 1);
    assert.equal(snap.rtcpBytes, 28);
    assert.equal(snap.packets, 1);
    assert.equal(snap.lost, 0);
  });
});
