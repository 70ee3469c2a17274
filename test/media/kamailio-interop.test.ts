// Kamailio 5.6 (Debian kamailio) with its rtpengine module pointed at voxgate's relay: SIPp calls through
// Kamailio, Kamailio drives our relay over ng (offer, answer, delete), and the SDP the callee gets points at
// the relay. The proxy configuration is the one bench:cps uses (bench/fixtures/kamailio-proxy.cfg).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMediaRelay,
  createNgControlServer,
  ngCommandChannel,
  type MediaRelay,
  type NgCommandEvent,
  type NgControlServer,
} from '../../src/media/index.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { runSipp, sippInstalled, sippPort, startSipp } from '../helpers/sipp.js';

/** Resolves once something holds UDP `port` on 127.0.0.1 (binding it fails), or after `ms`. */
async function untilBound(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const probe = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.bind(port, '127.0.0.1', () => resolve(true));
    });
    probe.close();
    if (!free) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CONFIG = join(import.meta.dirname, '..', '..', 'bench', 'fixtures', 'kamailio-proxy.cfg');
const kamailio = spawnSync('which', ['kamailio']).status === 0;
if (!kamailio && process.env.CI) throw new Error('kamailio (Debian package kamailio) is required in CI');
const skip = !kamailio ? 'kamailio not installed' : !sippInstalled() ? 'sipp not installed' : false;

describe("Kamailio's rtpengine module drives voxgate's relay", { skip }, () => {
  let relay: MediaRelay;
  let server: NgControlServer;
  let proxy: ChildProcess;
  let proxyPort: number;
  let uasPort: number;
  const commands: NgCommandEvent[] = [];
  const record = (m: unknown) => commands.push(m as NgCommandEvent);
  before(async () => {
    ngCommandChannel.subscribe(record);
    const portMin = 37000 + 2 * Math.floor(Math.random() * 1000);
    relay = createMediaRelay({
      bindHost: '127.0.0.1',
      advertised: '127.0.0.1',
      portMin,
      portMax: portMin + 99,
      timeoutMs: 0,
    });
    server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
    proxyPort = await freeUdpPort();
    uasPort = await sippPort();
    proxy = spawn(
      'kamailio',
      [
        '-f',
        CONFIG,
        '-DD',
        '-E',
        '-l',
        `udp:127.0.0.1:${proxyPort}`,
        '-A',
        `UAS="sip:127.0.0.1:${uasPort}"`,
        '-A',
        `RTPENGINE="udp:127.0.0.1:${server.address().port}"`,
        '-A',
        'KAMAILIO_CHILDREN=1',
        '-P',
        join(tmpdir(), `kamailio-interop-${proxyPort}.pid`),
        '-Y',
        tmpdir(),
      ],
      { stdio: 'ignore' },
    );
    // Kamailio pings the relay when it starts; wait for that ping before any call.
    const deadline = Date.now() + 10_000;
    while (!commands.some((c) => c.command === 'ping') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    ngCommandChannel.unsubscribe(record);
    if (proxy && proxy.exitCode === null) {
      const gone = new Promise((r) => proxy.once('exit', r));
      proxy.kill('SIGTERM');
      await gone;
    }
    await server?.close();
    relay?.close();
  });

  test('a SIPp call through Kamailio is anchored on the relay and deleted at the end', async () => {
    assert.ok(
      commands.some((c) => c.command === 'ping' && c.result === 'pong'),
      'Kamailio pinged the relay',
    );
    const uas = startSipp('uas-answer.xml', `127.0.0.1:${proxyPort}`, [
      '-p',
      String(uasPort),
      '-m',
      '1',
      '-timeout',
      '20s',
      '-timeout_error',
    ]);
    // Under load SIPp takes a while to start: the call goes only once the UAS holds its port.
    await untilBound(uasPort, 5000);
    const uac = await runSipp('uac-proxy-call.xml', `127.0.0.1:${proxyPort}`, [
      '-p',
      String(await sippPort()),
      '-m',
      '1',
      '-s',
      'bob',
      '-timeout',
      '20s',
      '-timeout_error',
    ]);
    const uasCode = await uas.exited;
    const seen = commands.map((c) => `${c.command}:${c.result}`);
    assert.equal(uac.code, 0, `${uac.logs}\n--- UAS\n${uas.logs()}\n--- ng: ${seen.join(' ')}`);
    assert.equal(uasCode, 0, uas.logs());
    assert.ok(seen.includes('offer:ok'), seen.join(' '));
    assert.ok(seen.includes('answer:ok'), seen.join(' '));
    assert.ok(seen.includes('delete:ok'), seen.join(' '));
    assert.equal(relay.calls, 0, 'the call is gone from the relay');
    assert.equal(relay.portsInUse, 0, 'its ports are free');
  });
});
