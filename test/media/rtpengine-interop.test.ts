// The ng client against a real RTPengine (Debian: `apt-get install rtpengine-daemon`), and voxgate's ng server
// against RTPengine's error replies. Skipped when rtpengine is not installed, except under CI, where it fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  NgErrorReply,
  NgTimeoutError,
  createNgClient,
  createNgControlServer,
  type NgClient,
  type NgControlServer,
} from '../../src/media/index.js';
import { createLossyRelay } from '../helpers/lossy-relay.js';
import { createUdpProbe, readReply, type UdpProbe } from '../helpers/udp-probe.js';

function findRtpengine(): string | undefined {
  const fromEnv = process.env.VOXGATE_RTPENGINE;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  const candidates = fromEnv ? [fromEnv] : dirs.map((dir) => join(dir, 'rtpengine'));
  return candidates.find((path) => existsSync(path));
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

const SDP_OFFER = [
  'v=0',
  'o=- 1545997027 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 30000 RTP/AVP 0 8',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  '',
].join('\r\n');
const SDP_ANSWER = SDP_OFFER.replace('m=audio 30000', 'm=audio 30010');

const binary = findRtpengine();

if (binary === undefined) {
  test(
    'rtpengine is installed (apt-get install rtpengine-daemon)',
    { skip: process.env.CI ? false : 'rtpengine not installed; CI requires it' },
    () => {
      assert.fail('rtpengine not found on PATH: apt-get install -y rtpengine-daemon');
    },
  );
} else {
  describe('ng protocol against a real RTPengine', () => {
    let child: ChildProcess;
    let ngPort: number;
    let client: NgClient;
    let stderr = '';
    let exited = false;
    const portMin = 42000 + 2 * Math.floor(Math.random() * 4000);
    const portMax = portMin + 99;

    before(async () => {
      ngPort = await freeUdpPort();
      const args = [
        '--config-file=none',
        '--table=-1',
        '--interface=127.0.0.1',
        `--listen-ng=127.0.0.1:${ngPort}`,
        '--foreground',
        '--log-stderr',
        '--delete-delay=0',
        `--port-min=${portMin}`,
        `--port-max=${portMax}`,
      ];
      child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr
        ?.setEncoding('utf8')
        .on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
      child.on('exit', () => (exited = true));
      child.on('error', () => (exited = true));
      client = createNgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 1000, retries: 2 });
      // Wait for it to listen: ping until it answers, for at most 100 short attempts.
      const probeClient = createNgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 100, retries: 0 });
      try {
        for (let attempt = 0; ; attempt++) {
          assert.ok(!exited, `rtpengine exited during startup: ${stderr}`);
          try {
            await probeClient.ping();
            break;
          } catch (err) {
            if (!(err instanceof NgTimeoutError) || attempt >= 100) {
              assert.fail(`rtpengine did not answer ping: ${String(err)}\n${stderr}`);
            }
          }
        }
      } finally {
        await probeClient.close();
      }
    });

    after(async () => {
      await client?.close();
      if (child && !exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        force.unref();
        await gone;
        clearTimeout(force);
      }
    });

    test('ping → pong', async () => {
      await client.ping();
    });

    test('offer, answer, list, delete, then query: a call through its whole life', async () => {
      const callId = `voxgate-${process.pid}-${Date.now()}`;
      const offer = await client.request('offer', { 'call-id': callId, 'from-tag': 'ft1', sdp: SDP_OFFER });
      assert.equal(offer.result, 'ok');
      const offered = String(offer.sdp);
      const port = Number(/^m=audio (\d+) RTP\/AVP 0 8\r$/m.exec(offered)?.[1]);
      assert.ok(
        port >= portMin && port <= portMax,
        `relay port ${port} in ${portMin}-${portMax}:\n${offered}`,
      );
      assert.match(offered, /^c=IN IP4 127\.0\.0\.1\r$/m);

      const answer = await client.request('answer', {
        'call-id': callId,
        'from-tag': 'ft1',
        'to-tag': 'tt1',
        sdp: SDP_ANSWER,
      });
      assert.match(String(answer.sdp), /^m=audio \d+ RTP\/AVP 0 8\r$/m);
      assert.ok((await client.request('list')).calls instanceof Array);
      assert.deepEqual((await client.request('list')).calls, [callId]);

      const deleted = await client.request('delete', { 'call-id': callId, 'from-tag': 'ft1' });
      assert.equal(deleted.result, 'ok');
      await assert.rejects(
        client.request('query', { 'call-id': callId }),
        (err: unknown) => err instanceof NgErrorReply && err.reason === 'Unknown call-id',
      );
    });

    test('a lost reply: the client retransmits, RTPengine answers from its cookie cache', async () => {
      const relay = await createLossyRelay(ngPort, 1);
      const lossy = createNgClient({ host: '127.0.0.1', port: relay.port, timeoutMs: 200, retries: 5 });
      const callId = `voxgate-lossy-${process.pid}-${Date.now()}`;
      try {
        const offer = await lossy.request('offer', { 'call-id': callId, 'from-tag': 'ft2', sdp: SDP_OFFER });
        assert.equal(relay.dropped(), 1);
        assert.match(String(offer.sdp), /^m=audio \d+ RTP\/AVP 0 8\r$/m);
        assert.deepEqual((await client.request('list')).calls, [callId]);
      } finally {
        await lossy.close();
        await relay.close();
        await client.request('delete', { 'call-id': callId, 'from-tag': 'ft2' });
      }
    });

    test('statistics has the keys the default handler mimics', async () => {
      const reply = await client.request('statistics');
      const statistics = reply.statistics as Record<string, Record<string, unknown>>;
      assert.equal(typeof statistics.currentstatistics?.sessionstotal, 'number');
      assert.match(String(statistics.totalstatistics?.uptime), /^\d+$/);
    });

    describe('voxgate ng server gives RTPengine’s error replies', () => {
      let ours: NgControlServer;
      let probe: UdpProbe;
      before(async () => {
        ours = await createNgControlServer({ host: '127.0.0.1', port: 0 });
        probe = await createUdpProbe();
      });
      after(async () => {
        await probe.close();
        await ours.close();
      });

      const cases: [string, string][] = [
        ['unknown command', 'd7:command10:frobnicatee'],
        ['no command', 'd4:call2:ide'],
        ['command not a string', 'd7:commandi1ee'],
        ['not bencode', 'xyz'],
        ['not a dictionary', 'li1ee'],
        ['bad integer', 'i01e'],
        ['ping', 'd7:command4:pinge'],
        ['list', 'd7:command4:liste'],
      ];
      for (const [name, body] of cases) {
        test(name, async () => {
          const cookie = `p${Math.random().toString(36).slice(2)}`;
          const theirs = readReply(await probe.exchange(`${cookie} ${body}`, ngPort, cookie)).body;
          const mine = readReply(await probe.exchange(`${cookie} ${body}`, ours.address().port, cookie)).body;
          assert.deepEqual(mine, theirs);
        });
      }
    });
  });
}
