// End-to-end calls to and from carriers with SIPp (Debian sip-tester) as both the phones and the carriers: an
// outbound call over a route of two trunks where the first carrier answers 503 and the call fails over to the
// second, an inbound call from a carrier's address to a DID, and a tenant's concurrent call limit refusing a
// call with 503. The carriers run on other loopback addresses (127.0.0.2, 127.0.0.3), so that the phones on
// 127.0.0.1 are not mistaken for them. Media is not anchored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRouteRepository, createTrunkRepository, type CallEvent } from '../../src/store/index.js';
import { endedEvent, HARNESS_USERS, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { assignNumber } from '../helpers/harness-numbers.js';
import {
  runSipp,
  sippCallerArgs,
  sippInstalled,
  sippMediaPort,
  sippPort,
  sippRegisterArgs,
  startSipp,
  type SippRun,
} from '../helpers/sipp.js';

const FAST = { t1: 100, t2: 800, t4: 1000 };
const SIPP_TIMEOUT = ['-timeout', '30s', '-timeout_error'];

type SippResult = { code: number | null; logs: string };

let groups = 0;
/** The first `ended` call event `match` accepts, on a consumer group of its own (from the stream start). */
const endedEventOf = (gw: GatewayHarness, match: (e: CallEvent) => boolean): Promise<CallEvent> =>
  endedEvent(gw, `trunks-sipp-${++groups}`, match);

/** A SIPp UAS (a carrier or a registered phone) on `ip`:`port`, answering one call with scenario `name`. */
async function startUas(gw: GatewayHarness, name: string, ip: string, port: number): Promise<SippRun> {
  return startSipp(name, `127.0.0.1:${gw.port}`, [
    '-i',
    ip,
    '-p',
    String(port),
    '-m',
    '1',
    '-mi',
    ip,
    '-mp',
    String(await sippMediaPort()),
    '-rtp_echo',
    ...SIPP_TIMEOUT,
  ]);
}

/** Waits for a UAS to finish, killing it (exit code null) if it is still waiting 10 s after its caller. */
async function finished(run: SippRun): Promise<SippResult> {
  const to = setTimeout(() => run.kill(), 10_000);
  const code = await run.exited;
  clearTimeout(to);
  return { code, logs: run.logs() };
}

/** Arguments of a registered phone of the harness tenant calling `service`, authenticating as `caller`. */
function phoneArgs(caller: keyof typeof HARNESS_USERS, service: string): Promise<string[]> {
  return sippCallerArgs(HARNESS_USERS[caller], { caller, service });
}

/** Registers `user` from 127.0.0.1:`port` through SIPp (register-digest.xml). */
async function register(gw: GatewayHarness, user: keyof typeof HARNESS_USERS, port: number): Promise<void> {
  const reg = await runSipp('register-digest.xml', `127.0.0.1:${gw.port}`, [
    ...sippRegisterArgs(user, HARNESS_USERS[user], port),
  ]);
  assert.equal(reg.code, 0, `${user} did not register\n${reg.logs}`);
}

// SIPp needs a moment to bind before the gateway sends it an INVITE.
const bound = () => new Promise((r) => setTimeout(r, 300));

const sipp = sippInstalled();

describe(
  'SIPp carriers: outbound failover over a route, inbound DID',
  { skip: !sipp && 'sipp not installed' },
  () => {
    let gw: GatewayHarness;
    let carrierPortA: number;
    let carrierPortB: number;
    let trunkA: string;
    let trunkB: string;
    /** The trunkId of the outbound call's ended event. */
    before(async () => {
      carrierPortA = await sippPort();
      carrierPortB = await sippPort();
      gw = await startGateway({ digestAlgorithms: ['MD5', 'SHA-256'], timers: FAST });
      const trunks = createTrunkRepository(gw.db);
      trunkA = (
        await trunks.create({
          tenantId: gw.tenantId,
          name: 'carrier-a',
          host: '127.0.0.2',
          port: carrierPortA,
          inboundCidrs: ['127.0.0.2/32'],
        })
      ).id;
      trunkB = (
        await trunks.create({
          tenantId: gw.tenantId,
          name: 'carrier-b',
          host: '127.0.0.3',
          port: carrierPortB,
        })
      ).id;
      await createRouteRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'national',
        pattern: '0[1-9]\\d{8,9}',
        stripDigits: 1,
        prefix: '+44',
        trunkIds: [trunkA, trunkB],
      });
      await assignNumber(gw, 'bob', '+442079460000');
    });
    after(() => gw?.close());

    test('outbound: carrier A answers 503, the call fails over to carrier B, which answers', async () => {
      const carrierA = await startUas(gw, 'uas-503.xml', '127.0.0.2', carrierPortA);
      const carrierB = await startUas(gw, 'uas-answer.xml', '127.0.0.3', carrierPortB);
      await bound();
      // alice dials a national number: the route strips the 0 and prefixes +44.
      const caller = await runSipp(
        'uac-call.xml',
        `127.0.0.1:${gw.port}`,
        await phoneArgs('alice', '02079461234'),
      );
      const a = await finished(carrierA);
      const b = await finished(carrierB);
      assert.equal(caller.code, 0, `caller failed\n${caller.logs}`);
      // Carrier A's scenario is: the INVITE, its 503, the ACK of the 503.
      assert.equal(a.code, 0, `carrier A failed\n${a.logs}`);
      assert.match(
        a.logs,
        new RegExp(`INVITE sip:\\+442079461234@127\\.0\\.0\\.2:${carrierPortA} SIP/2\\.0`),
      );
      assert.match(a.logs, /SIP\/2\.0 503 Service Unavailable/);
      assert.equal(b.code, 0, `carrier B failed\n${b.logs}`);
      const ended = await endedEventOf(gw, (e) => e.to === '+442079461234');
      assert.equal(ended.direction, 'outbound');
      assert.equal(ended.disposition, 'answered');
      assert.equal(ended.sipCode, 200);
      assert.equal(ended.hangupBy, 'caller');
      assert.equal(ended.trunkId, trunkB, `the trunk that carried the call (carrier A is ${trunkA})`);
    });

    test('inbound: a carrier calls a DID from its address, the SIPp phone it is assigned to answers', async () => {
      const bobPort = await sippPort();
      await register(gw, 'bob', bobPort);
      try {
        const bob = await startUas(gw, 'uas-answer.xml', '127.0.0.1', bobPort);
        await bound();
        const carrier = await runSipp('uac-proxy-call.xml', `127.0.0.1:${gw.port}`, [
          '-i',
          '127.0.0.2',
          '-p',
          String(await sippPort()),
          '-m',
          '1',
          '-s',
          '+442079460000',
          '-mi',
          '127.0.0.2',
          '-mp',
          String(await sippMediaPort()),
          ...SIPP_TIMEOUT,
        ]);
        const callee = await finished(bob);
        assert.equal(carrier.code, 0, `carrier failed\n${carrier.logs}`);
        assert.equal(callee.code, 0, `bob failed\n${callee.logs}`);
        const ended = await endedEventOf(gw, (e) => e.to === '+442079460000');
        assert.equal(ended.direction, 'inbound');
        assert.equal(ended.disposition, 'answered');
        assert.equal(ended.hangupBy, 'caller');
        assert.equal(ended.trunkId, trunkA, 'matched by its inbound CIDR');
      } finally {
        await gw.state.registrations.removeAll('sip:bob@acme.example');
      }
    });
  },
);

describe(
  "SIPp phones over the tenant's concurrent call limit",
  { skip: !sipp && 'sipp not installed' },
  () => {
    let gw: GatewayHarness;
    before(async () => {
      gw = await startGateway({
        digestAlgorithms: ['MD5', 'SHA-256'],
        timers: FAST,
        tenantLimits: { maxConcurrentCalls: 1 },
      });
    });
    after(() => gw?.close());

    test('with one call up, a second caller of the tenant gets 503 with a Warning naming the limit', async () => {
      const bobPort = await sippPort();
      await register(gw, 'bob', bobPort);
      try {
        const bob = await startUas(gw, 'uas-answer.xml', '127.0.0.1', bobPort);
        await bound();
        // alice's call stays up for 4 s (-d): long enough for the second call to be refused meanwhile.
        const held = startSipp('uac-hold.xml', `127.0.0.1:${gw.port}`, [
          ...(await phoneArgs('alice', 'bob')),
          '-d',
          '4000',
        ]);
        const deadline = Date.now() + 10_000;
        while (!(await gw.state.calls.listByTenant(gw.tenantId)).some((c) => c.state === 'answered')) {
          assert.ok(Date.now() < deadline, 'the first call was not answered');
          await new Promise((r) => setTimeout(r, 50));
        }
        const refused = await runSipp(
          'uac-refused.xml',
          `127.0.0.1:${gw.port}`,
          await phoneArgs('carol', 'bob'),
        );
        const first = { code: await held.exited, logs: held.logs() };
        const callee = await finished(bob);
        assert.equal(refused.code, 0, `the second call was not refused as expected\n${refused.logs}`);
        assert.equal(first.code, 0, `the held call failed\n${first.logs}`);
        assert.equal(callee.code, 0, `bob failed\n${callee.logs}`);
        // Both attempts are recorded: the held call answered, carol's refused as over the limit.
        const answered = await endedEventOf(
          gw,
          (e) => e.to === 'sip:bob@acme.example' && e.from === 'sip:alice@acme.example',
        );
        assert.equal(answered.disposition, 'answered');
        const limited = await endedEventOf(
          gw,
          (e) => e.to === 'sip:bob@acme.example' && e.from === 'sip:carol@acme.example',
        );
        assert.deepEqual(
          [limited.disposition, limited.sipCode, limited.reason],
          ['limited', 503, 'tenant concurrent call limit'],
        );
      } finally {
        await gw.state.registrations.removeAll('sip:bob@acme.example');
      }
    });
  },
);
