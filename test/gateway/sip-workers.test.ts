// One sip-gateway with VOXGATE_SIP_WORKERS=2 (node:cluster): both workers read the one UDP socket of the SIP
// port, and a datagram read by the worker that does not own its Call-ID is handed to the owner. Calls owned by
// each worker complete whichever worker reads their messages; a phone registered through one worker is called
// through the other; SIGTERM drains both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { ownerOf } from '../../src/gateway/index.js';
import {
  answerChallenge,
  buildRequest,
  buildResponse,
  header,
  headerValues,
  type SipMessage,
  type SipRequest,
} from '../../src/sip/index.js';
import { provisionUsers } from '../helpers/provision-users.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { sdp, SipPhone, type OutgoingCall } from '../helpers/sip-phone.js';
import { freeTcpPort } from '../helpers/rtpengine.js';
import { runVoxgate, startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { WsClient } from '../helpers/ws-sip-client.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One GET on a new connection: status and body. */
function fetchText(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

/** A Call-ID that hashes to `worker` of 2. */
function callIdOf(worker: number, prefix: string): string {
  for (let i = 0; ; i++) if (ownerOf(`${prefix}-${i}`, 2) === worker) return `${prefix}-${i}`;
}

/** The counters of each worker's stream hand-over, from one scrape of the primary's /metrics. */
async function streamCounts(url: string): Promise<Record<string, number>> {
  const total: Record<string, number> = {};
  const { text } = await fetchText(`${url}/metrics`);
  for (const m of text.matchAll(
    /^voxgate_sip_worker_stream_messages\{worker="\d+",outcome="(\w+)"\} (\d+)$/gm,
  ))
    total[m[1]!] = (total[m[1]!] ?? 0) + Number(m[2]);
  return total;
}

/**
 * Reads `scrape` until `agree` holds, for 5 s at most, and returns the last reading. Messages handed between
 * workers go over loopback UDP, and the primary reads each worker's counters at its own instant: a message
 * handed on just before the scrape is counted as passed and not yet as received. One that never arrives keeps
 * them apart, and the assertion after this fails.
 */
async function scrapedUntil<T>(scrape: () => Promise<T>, agree: (reading: T) => boolean): Promise<T> {
  let reading = await scrape();
  for (let i = 0; i < 50 && !agree(reading); i++) {
    await new Promise((r) => setTimeout(r, 100));
    reading = await scrape();
  }
  return reading;
}

/** The sum of one outcome over every worker's counters. */
const sum = (workers: Map<string, Record<string, number>>, outcome: string) =>
  [...workers.values()].reduce((n, c) => n + (c[outcome] ?? 0), 0);

const pick = (p: { type: string; status: number }) => ({ type: p.type, status: p.status });

/** The dispatch counters of each worker, from one scrape of the primary's /metrics (every worker's, merged). */
async function dispatchCounts(url: string): Promise<Map<string, Record<string, number>>> {
  const workers = new Map<string, Record<string, number>>();
  const { text } = await fetchText(`${url}/metrics`);
  for (const m of text.matchAll(/^voxgate_sip_worker_datagrams\{worker="(\d+)",outcome="(\w+)"\} (\d+)$/gm)) {
    const counts = workers.get(m[1]!) ?? {};
    counts[m[2]!] = Number(m[3]);
    workers.set(m[1]!, counts);
  }
  return workers;
}

describe('one sip-gateway with two SIP workers', async () => {
  const skip = (await postgresAvailable()) ? false : 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let vx: VoxgateProcess;
  const domain = `workers-${randomBytes(4).toString('hex')}.example`;
  let alice: SipPhone;
  let bob: SipPhone;
  let wsPort: number;

  before(async () => {
    if (skip) return;
    db = await createScratchDatabase();
    wsPort = await freeTcpPort();
    vx = await startVoxgate(
      ['--target=sip-gateway'],
      {
        VOXGATE_DATABASE_URL: db.url,
        VOXGATE_REDIS_URL: REDIS_URL,
        VOXGATE_SIP_WORKERS: '2',
        VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
        VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
        VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
        VOXGATE_SIP_WS_PORT: String(wsPort),
      },
      { startTimeoutMs: 90_000 },
    );
    // The first worker says "voxgate started" for itself; the primary says when both listen.
    for (let i = 0; i < 600 && !vx.logs.some((l) => l.msg === 'SIP workers ready'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      vx.logs.some((l) => l.msg === 'SIP workers ready'),
      'both workers listen',
    );
    await provisionUsers(db.url, { name: 'Workers', domain }, { alice: 'a1ice', bob: 'b0b', carol: 'car0l' });
    alice = await SipPhone.open('alice', 'a1ice', vx.sipUdpPort!, domain);
    bob = await SipPhone.open('bob', 'b0b', vx.sipUdpPort!, domain);
  });
  after(async () => {
    alice?.close();
    bob?.close();
    if (vx && vx.child.exitCode === null) await vx.stop();
    await db?.drop();
  });

  const seenInvites = new Set<string>();
  /** The next new INVITE bob gets (not a retransmission of an earlier one). */
  async function newInvite(): Promise<SipRequest> {
    const invite = (await bob.waitFor(
      (m) => m.kind === 'request' && m.method === 'INVITE' && !seenInvites.has(m.callId),
      5000,
      'a new INVITE',
    )) as SipRequest;
    seenInvites.add(invite.callId);
    return invite;
  }
  /** A request of `method` in the call of `callId` that `phone` gets. */
  const inCall = (phone: SipPhone, method: string, callId: string) =>
    phone.waitFor(
      (m) => m.kind === 'request' && m.method === method && m.callId === callId,
      5000,
      `${method} of ${callId}`,
    ) as Promise<SipRequest>;

  /** alice calls bob; bob rings and answers (his 200 sent twice: a retransmission); both ACKed. */
  async function answeredCall(): Promise<{ call: OutgoingCall; invite: SipRequest }> {
    const call = await alice.invite('bob', sdp(41000));
    const invite = await newInvite();
    bob.reply(invite, 180, 'Ringing', 'sb');
    await alice.response(call.callId, 180);
    bob.reply(invite, 200, 'OK', 'sb', {}, sdp(41002));
    bob.reply(invite, 200, 'OK', 'sb', {}, sdp(41002));
    assert.equal((await call.final()).status, 200);
    call.ack();
    await inCall(bob, 'ACK', invite.callId);
    return { call, invite };
  }

  test(
    'calls owned by each worker complete, bob registered through one worker is called through the other',
    { skip },
    async () => {
      const registered = await bob.register();
      assert.equal(registered.status, 200);
      assert.equal((await alice.register()).status, 200);
      const registrar = ownerOf(registered.callId, 2);
      const owners = new Set<number>();
      // Calls until both workers own one (each Call-ID hashes to one worker at random).
      for (let i = 0; i < 16 && owners.size < 2; i++) {
        const { call, invite } = await answeredCall();
        owners.add(ownerOf(call.callId, 2));
        assert.notEqual(invite.callId, call.callId, 'the callee leg has a Call-ID of its own');
        assert.equal(
          ownerOf(invite.callId, 2),
          ownerOf(call.callId, 2),
          "the callee leg's Call-ID hashes to the worker owning the caller's",
        );
        if (i % 2 === 0) {
          // The caller hangs up.
          call.send('BYE');
          bob.reply(await inCall(bob, 'BYE', invite.callId), 200, 'OK', 'sb');
          assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);
        } else {
          // The callee hangs up: his BYE carries the callee leg's Call-ID.
          bob.send(bob.inDialogAsCallee(invite, 'sb', 'BYE', 2));
          alice.reply(await inCall(alice, 'BYE', call.callId), 200, 'OK', call.fromTag);
          assert.equal((await bob.response(invite.callId, 200, 'BYE')).status, 200);
        }
      }
      assert.deepEqual([...owners].sort(), [0, 1], 'calls owned by both workers were made');
      assert.ok(owners.has(1 - registrar), 'a call handled by the worker that did not take the REGISTER');

      // A call cancelled while it rings.
      const call = await alice.invite('bob', sdp(41004));
      const invite = await newInvite();
      bob.reply(invite, 180, 'Ringing', 'sc');
      await alice.response(call.callId, 180);
      call.cancel();
      assert.equal((await alice.response(call.callId, 200, 'CANCEL')).status, 200);
      bob.reply(await inCall(bob, 'CANCEL', invite.callId), 200, 'OK', 'sc');
      bob.reply(invite, 487, 'Request Terminated', 'sc');
      assert.equal((await call.final()).status, 487);

      // The ACK of the 487 may still be on its way between workers when /metrics is read.
      const counts = await scrapedUntil(
        () => dispatchCounts(vx.httpUrl),
        (c) => sum(c, 'received') === sum(c, 'passed'),
      );
      assert.equal(counts.size, 2, "one scrape of /metrics holds both workers' series");
      const total = (outcome: string) => sum(counts, outcome);
      assert.ok(total('passed') > 0, 'datagrams read by the worker not owning them were handed on');
      assert.equal(total('received'), total('passed'), 'every datagram handed on arrived');
    },
  );

  test(
    'a phone on a WebSocket, held by worker 0, registers through worker 1 and is called by calls either worker owns',
    { skip },
    async () => {
      const carol = await WsClient.open(wsPort);
      const contact = '<sip:carol@c4r0l.invalid;transport=ws>';
      const next = (match: (m: SipMessage) => boolean, what: string) => carol.next(match, what);
      try {
        // Her REGISTER's Call-ID is worker 1's: worker 0 reads it on the WebSocket and hands it on; worker 1's
        // 401 and 200 go back on her WebSocket through worker 0, and worker 1's hold keeps the flow.
        const registerId = callIdOf(1, 'ws-register');
        const register = (cseq: number, authorization?: string) =>
          buildRequest('REGISTER', `sip:${domain}`, [
            { name: 'Via', value: `SIP/2.0/WS c4r0l.invalid;branch=z9hG4bKwsreg${cseq}` },
            { name: 'Max-Forwards', value: '70' },
            { name: 'From', value: `<sip:carol@${domain}>;tag=wsc` },
            { name: 'To', value: `<sip:carol@${domain}>` },
            { name: 'Call-ID', value: registerId },
            { name: 'CSeq', value: `${cseq} REGISTER` },
            { name: 'Contact', value: contact },
            { name: 'Expires', value: '300' },
            ...(authorization ? [{ name: 'Authorization', value: authorization }] : []),
          ]);
        carol.send(register(1));
        const challenge = await next((m) => m.kind === 'response' && m.status === 401, '401');
        const answer = answerChallenge({
          challenges: headerValues(challenge, 'WWW-Authenticate'),
          method: 'REGISTER',
          uri: `sip:${domain}`,
          username: 'carol',
          password: 'car0l',
        });
        carol.send(register(2, answer!.authorization));
        await next((m) => m.kind === 'response' && m.status === 200, '200 to REGISTER');

        const owners = new Set<number>();
        for (let i = 0; i < 16 && owners.size < 2; i++) {
          const call = await alice.invite('carol', sdp(41010));
          owners.add(ownerOf(call.callId, 2));
          const invite = (await next(
            (m) => m.kind === 'request' && m.method === 'INVITE',
            'INVITE on the WebSocket',
          )) as SipRequest;
          assert.match(invite.topVia, /^SIP\/2\.0\/WS /);
          assert.match(header(invite, 'Contact') ?? '', new RegExp(`:${wsPort};transport=ws>$`));
          const answered = { Contact: contact, 'Content-Type': 'application/sdp' };
          carol.send(buildResponse(invite, 180, 'Ringing', { Contact: contact }, undefined, 'wc'));
          carol.send(buildResponse(invite, 200, 'OK', answered, sdp(41012), 'wc'));
          assert.equal((await call.final()).status, 200);
          call.ack();
          await next((m) => m.kind === 'request' && m.method === 'ACK', 'ACK on the WebSocket');
          // She hangs up: her BYE, on the WebSocket, reaches the worker owning the call.
          carol.send(
            buildRequest('BYE', /<([^>]*)>/.exec(header(invite, 'Contact') ?? '')![1]!, [
              { name: 'Via', value: `SIP/2.0/WS c4r0l.invalid;branch=z9hG4bKwsbye${i}` },
              { name: 'Max-Forwards', value: '70' },
              { name: 'From', value: `${header(invite, 'To')};tag=wc` },
              { name: 'To', value: header(invite, 'From') ?? '' },
              { name: 'Call-ID', value: invite.callId },
              { name: 'CSeq', value: '2 BYE' },
            ]),
          );
          alice.reply(await inCall(alice, 'BYE', call.callId), 200, 'OK', call.fromTag);
          await next(
            (m) => m.kind === 'response' && m.status === 200 && m.callId === invite.callId,
            '200 to her BYE',
          );
        }
        assert.deepEqual([...owners].sort(), [0, 1], 'calls owned by both workers reached her');
        const counts = await scrapedUntil(
          () => streamCounts(vx.httpUrl),
          (c) => c.received === c.passed,
        );
        assert.ok((counts.passed ?? 0) > 0, 'messages read on her flow were handed to worker 1');
        assert.equal(counts.received, counts.passed, 'every one arrived');
        assert.ok((counts.relayed ?? 0) > 0, "worker 1 sent on worker 0's flow");
        assert.equal(counts.failed ?? 0, 0);

        // Her WebSocket closes (her binding stays): a call to her fails at once whichever worker owns it, worker
        // 1 told by worker 0 that the flow is gone, not after Timer B.
        carol.socket.close();
        let ownedBy1 = false;
        for (let i = 0; i < 16 && !ownedBy1; i++) {
          const call = await alice.invite('carol', sdp(41014));
          const final = await call.final();
          assert.ok(final.status >= 400, `refused (${final.status})`);
          ownedBy1 = ownerOf(call.callId, 2) === 1;
        }
        assert.ok(ownedBy1, 'a call worker 1 owns');
        assert.ok(((await streamCounts(vx.httpUrl)).failed ?? 0) > 0, 'the failure came back to worker 1');
      } finally {
        carol.socket.close();
      }
    },
  );

  test(
    'the primary serves the HTTP port: /readyz counts the workers, /metrics merges theirs',
    { skip },
    async () => {
      const ready = await fetchText(`${vx.httpUrl}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(ready.text, /"2 of 2 up"/);
      assert.equal((await fetchText(`${vx.httpUrl}/healthz`)).status, 200);
      const { status, text } = await fetchText(`${vx.httpUrl}/metrics`);
      assert.equal(status, 200);
      // Merged, not concatenated: a process metric of both workers is one series (their sum).
      assert.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1, text.slice(0, 400));
      const workers = new Set(
        [...text.matchAll(/^voxgate_sip_worker_datagrams\{worker="(\d+)"/gm)].map((m) => m[1]),
      );
      assert.deepEqual([...workers].sort(), ['0', '1']);
      // Refusals are entries of the API's problem catalog, as the single-process listener answers them.
      const missing = await fetchText(`${vx.httpUrl}/nowhere`);
      assert.equal(missing.status, 404);
      assert.deepEqual(pick(JSON.parse(missing.text)), { type: '/problems/not-found', status: 404 });
      const posted = await fetch(`${vx.httpUrl}/metrics`, { method: 'POST' });
      assert.equal(posted.status, 405);
      assert.equal(posted.headers.get('allow'), 'GET, HEAD');
      assert.deepEqual(pick((await posted.json()) as { type: string; status: number }), {
        type: '/problems/method-not-allowed',
        status: 405,
      });
    },
  );

  test('a worker killed is restarted, its loss logged; calls it owns complete again', { skip }, async () => {
    const ready = vx.logs.find((l) => l.msg === 'SIP workers ready') as { pids: number[] };
    process.kill(ready.pids[1]!, 'SIGKILL');
    const logged = (msg: string) => vx.logs.find((l) => String(l.msg).startsWith(msg) && l.worker === 1);
    for (let i = 0; i < 600 && !logged('SIP worker back'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(String(logged('SIP worker died')?.msg), /calls in progress are lost/);
    assert.equal(logged('SIP worker died')?.signal, 'SIGKILL');
    assert.ok(logged('SIP worker back'), 'worker 1 restarted and listening');
    // bob's registration is in Redis: the restarted worker reaches him.
    let owned = false;
    for (let i = 0; i < 16 && !owned; i++) {
      const { call, invite } = await answeredCall();
      owned = ownerOf(call.callId, 2) === 1;
      call.send('BYE');
      bob.reply(await inCall(bob, 'BYE', invite.callId), 200, 'OK', 'sb');
      assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);
    }
    assert.ok(owned, 'a call owned by the restarted worker completed');
  });

  test(
    'SIGTERM drains both workers: new calls refused, calls up end normally, exit 0',
    { skip },
    async () => {
      const calls = [];
      const owners = new Set<number>();
      for (let i = 0; i < 16 && owners.size < 2; i++) {
        const answered = await answeredCall();
        owners.add(ownerOf(answered.call.callId, 2));
        calls.push(answered);
      }
      assert.equal(owners.size, 2, 'a call up on each worker');
      const exited = vx.stop('SIGTERM');
      for (let i = 0; i < 100 && vx.logs.filter((l) => l.msg === 'draining').length < 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(vx.logs.filter((l) => l.msg === 'draining').length, 2, 'both workers drain');
      // New calls, whichever worker owns them, are refused while the calls up go on.
      for (const callId of ['drain-new-call-a', 'drain-new-call-b', 'drain-new-call-c']) {
        alice.send(
          buildRequest('INVITE', `sip:bob@${domain}`, [
            { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${alice.port};branch=z9hG4bK${callId};rport` },
            { name: 'Max-Forwards', value: '70' },
            { name: 'From', value: `<sip:alice@${domain}>;tag=dn` },
            { name: 'To', value: `<sip:bob@${domain}>` },
            { name: 'Call-ID', value: callId },
            { name: 'CSeq', value: '1 INVITE' },
            { name: 'Contact', value: alice.contact },
          ]),
        );
        assert.equal((await alice.response(callId, 503)).status, 503);
      }
      for (const { call, invite } of calls) {
        call.send('BYE');
        bob.reply(await inCall(bob, 'BYE', invite.callId), 200, 'OK', 'sb');
        assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);
      }
      assert.equal(await exited, 0);
      assert.ok(vx.logs.some((l) => l.msg === 'voxgate stopped' && l.reason === 'SIGTERM'));
    },
  );
});

describe('what more than one SIP worker is refused with', () => {
  test('in-process memory as shared state, or a target other than sip-gateway: one line, exit 78', async () => {
    const memory = await runVoxgate(['--target=sip-gateway'], { VOXGATE_SIP_WORKERS: '2' });
    assert.equal(memory.code, 78);
    assert.equal(
      memory.stderr.trim(),
      'voxgate: configuration error: VOXGATE_SIP_WORKERS=2 (2 workers) needs VOXGATE_REDIS_URL: the workers share registrations and calls as replicas do, and in-process memory is not shared',
    );
    const all = await runVoxgate(['--target=all'], {
      VOXGATE_SIP_WORKERS: '2',
      VOXGATE_REDIS_URL: REDIS_URL,
    });
    assert.equal(all.code, 78);
    assert.match(all.stderr, /VOXGATE_SIP_WORKERS=2 \(2 workers\) needs --target=sip-gateway alone, not all/);
    const bad = await runVoxgate(['--target=sip-gateway'], { VOXGATE_SIP_WORKERS: 'many' });
    assert.equal(bad.code, 78);
    assert.match(
      bad.stderr,
      /VOXGATE_SIP_WORKERS="many" is invalid: expected a number of processes from 1 to 999, or 'auto'/,
    );
  });
});
