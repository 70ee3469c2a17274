// The web console and the browser softphone against a real all-in-one voxgate process: Debian's Chromium,
// headless, driven by playwright-core (flags as in /work/shared/notes/webrtc-chromium.md and the interop
// suite's Chromium client). The live event stream (SSE) is also read without a browser, so that part runs
// where Chromium is missing. Without Chromium the browser tests are skipped, unless CI is set: then they fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createSocket } from 'node:dgram';
import { buildResponse, parseMessage, type SipRequest } from '../../src/sip/index.js';
import { ensureConsoleBuilt } from '../helpers/console-build.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { CLIENT_TONE_HZ, FAR_END_TONE_HZ, hears, toneFrames, writeToneWav } from '../interop/lib/audio.js';
import { FarEnd } from '../interop/lib/far-end.js';
import type { SipServer } from '../interop/lib/types.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const CHROMIUM = process.env.VOXGATE_TEST_CHROMIUM ?? '/usr/lib/chromium/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`the console tests need Chromium at ${CHROMIUM} (Debian package chromium) in CI`);
}
const browserSkip = haveChromium
  ? false
  : `Chromium is not installed at ${CHROMIUM} (Debian package chromium; VOXGATE_TEST_CHROMIUM names another)`;
/** VOXGATE_CONSOLE_SCREENSHOTS=docs/images saves a PNG of each page the tests visit. */
const SCREENSHOTS = process.env.VOXGATE_CONSOLE_SCREENSHOTS;

const KEY = `vxg_console${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const DOMAIN = 'console.example';

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('web console and softphone (/console, /console/phone)', () => {
  let vx: VoxgateProcess;
  let wsPort: number;
  let browser: Browser | undefined;
  let tenantId: string;
  /** The fake microphone: a WAV of the interop suite's client tone (500 Hz), looped by Chromium. */
  let scratch: string;
  /** The relay's RTP ports: the far end's audio must come from them. */
  let rtpPorts: [number, number] = [0, 0];
  const api = async (path: string, body?: unknown, method = body ? 'POST' : 'GET', key = KEY) => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (res.status === 204 ? {} : await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, JSON.stringify(json));
    return json;
  };
  const shot = async (page: Page, name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  };
  const signIn = async (page: Page, key: string) => {
    await page.goto(`${vx.httpUrl}/console`);
    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=who]');
  };

  before(async () => {
    ensureConsoleBuilt();
    wsPort = await freeTcpPort();
    const portMin = 38000 + 2 * Math.floor(Math.random() * 2000);
    rtpPorts = [portMin, portMin + 99];
    vx = await startVoxgate(['--target=all'], {
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_SIP_WS_PORT: String(wsPort),
      VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
      VOXGATE_RTP_PORT_MIN: String(portMin),
      VOXGATE_RTP_PORT_MAX: String(portMin + 99),
      // Trunk health within the test's time: an OPTIONS check every second.
      VOXGATE_TRUNK_CHECK_SECONDS: '1',
    });
    scratch = await mkdtemp(join(tmpdir(), 'voxgate-console-'));
    const toneFile = join(scratch, 'tone.wav');
    writeToneWav(toneFile, CLIENT_TONE_HZ, 120);
    if (haveChromium) {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--use-fake-ui-for-media-stream',
          '--use-fake-device-for-media-stream',
          `--use-file-for-fake-audio-capture=${toneFile}`,
          '--allow-loopback-in-peer-connection',
          '--autoplay-policy=no-user-gesture-required',
        ],
      });
    }
  });
  after(async () => {
    await browser?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    assert.equal(await vx?.stop(), 0);
  });

  test('the pages and their config are served without a key; the API still needs one', async () => {
    for (const path of ['/console', '/console/phone']) {
      const res = await fetch(`${vx.httpUrl}${path}`);
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    }
    const config = (await (await fetch(`${vx.httpUrl}/console/config.json`)).json()) as {
      sipWebSocket: { port: number };
    };
    assert.equal(config.sipWebSocket.port, wsPort);
    assert.equal((await fetch(`${vx.httpUrl}/console/assets/console.js`)).status, 200);
    assert.equal((await fetch(`${vx.httpUrl}/console/assets/..%2Fpackage.json`)).status, 404);
    assert.equal((await fetch(`${vx.httpUrl}/v1/whoami`)).status, 401);
  });

  test(
    'admin: sign in, create a tenant and a user through the forms, see them listed; a validation problem shows at its field',
    { skip: browserSkip },
    async () => {
      const page = await browser!.newPage();
      try {
        await signIn(page, KEY);
        assert.match((await page.textContent('[data-testid=who]')) ?? '', /admin · platform/);
        await shot(page, 'console-login');

        await page.goto(`${vx.httpUrl}/console#/tenants`);
        await page.click('[data-testid=page-tenants] [data-testid=create]');
        await page.fill('[data-testid=editor] input[name=name]', 'Console Co');
        await page.fill('[data-testid=editor] input[name=sipDomain]', DOMAIN);
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector(`[data-testid=list] td:text-is("${DOMAIN}")`);
        const tenants = (await api('/tenants')) as { items: { id: string; sipDomain: string }[] };
        tenantId = tenants.items.find((t) => t.sipDomain === DOMAIN)!.id;
        // The new tenant is chosen for the tenant-scoped views.
        await page.selectOption('[data-testid=tenant-select]', tenantId);

        await page.goto(`${vx.httpUrl}/console#/users`);
        await page.click('[data-testid=page-users] [data-testid=create]');
        await page.fill('[data-testid=editor] input[name=username]', 'bad user');
        await page.fill('[data-testid=editor] input[name=password]', 'alice-password');
        await page.click('[data-testid=editor] button[type=submit]');
        const fieldError = await page.waitForSelector('[data-field=username] .field-error');
        assert.match((await fieldError.textContent()) ?? '', /pattern/);
        assert.equal(await page.getAttribute('input[name=username]', 'aria-invalid'), 'true');
        assert.equal(
          await page.$('[data-field=password] .field-error'),
          null,
          'only the invalid field is marked',
        );
        await shot(page, 'console-validation');

        await page.fill('[data-testid=editor] input[name=username]', 'alice');
        await page.fill('[data-testid=editor] input[name=displayName]', 'Alice Liddell');
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector('[data-testid=list] td:text-is("alice")');
        assert.equal(await page.$('[data-testid=editor]'), null, 'the form closed');
        await page.fill('input[type=search]', 'liddell');
        assert.equal(await page.locator('[data-testid=list] tbody tr').count(), 1);
        await shot(page, 'console-users');

        // Edit sends only what changed; delete asks first.
        page.on('dialog', (dialog) => void dialog.accept());
        await page.click('[data-testid=list] tbody tr button:text-is("Edit")');
        assert.equal(await page.inputValue('[data-testid=editor] input[name=displayName]'), 'Alice Liddell');
        await page.fill('[data-testid=editor] input[name=displayName]', 'Alice Pleasance Liddell');
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector('[data-testid=list] td:text-is("Alice Pleasance Liddell")');
        await page.fill('input[type=search]', '');
        await page.click('[data-testid=page-users] [data-testid=create]');
        await page.fill('[data-testid=editor] input[name=username]', 'temp');
        await page.fill('[data-testid=editor] input[name=password]', 'temp-password');
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector('[data-testid=list] td:text-is("temp")');
        await page.click('[data-testid=list] tr:has(td:text-is("temp")) button:text-is("Delete")');
        await page.waitForSelector('[data-testid=list] td:text-is("temp")', { state: 'detached' });
        const users = (await api(`/tenants/${tenantId}/users`)) as { items: { username: string }[] };
        assert.deepEqual(
          users.items.map((u) => u.username),
          ['alice'],
        );
      } finally {
        await page.close();
      }
    },
  );

  test(
    'a viewer key of the tenant sees its users and no button that changes anything',
    { skip: browserSkip },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous test');
      const viewer = (await api('/api-keys', { name: 'console viewer', role: 'viewer', tenantId })) as {
        key: string;
      };
      const page = await browser!.newPage();
      try {
        await signIn(page, viewer.key);
        assert.match((await page.textContent('[data-testid=who]')) ?? '', /viewer/);
        await page.goto(`${vx.httpUrl}/console#/users`);
        await page.waitForSelector('[data-testid=list] td:text-is("alice")');
        assert.equal(await page.locator('[data-testid=create]').count(), 0);
        assert.equal(await page.locator('button:text-is("Edit"), button:text-is("Delete")').count(), 0);
        assert.equal(await page.locator('nav a:text-is("Audit log")').count(), 0);
        await page.goto(`${vx.httpUrl}/console#/registrations`);
        await page.waitForSelector('[data-testid=page-registrations]');
        assert.equal(await page.locator('button:text-is("Kick")').count(), 0);
        // And the API refuses the viewer's writes whatever the page shows.
        const res = await fetch(`${vx.httpUrl}/v1/tenants/${tenantId}/users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${viewer.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'mallory', password: 'mallory-pass' }),
        });
        assert.equal(res.status, 403);
      } finally {
        await page.close();
      }
    },
  );

  test('the event stream (SSE) delivers a registration when a SIP phone registers; the console shows it live', async () => {
    if (!tenantId) {
      tenantId = (await api('/tenants', { name: 'Console Co', sipDomain: DOMAIN })).id as string;
      await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-password' });
    }
    await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-password' });
    const tenantKey = (await api('/api-keys', { name: 'sse viewer', role: 'viewer', tenantId })) as {
      key: string;
    };
    const unauthenticated = await fetch(`${vx.httpUrl}/v1/tenants/${tenantId}/events/stream`);
    assert.equal(unauthenticated.status, 401);

    const controller = new AbortController();
    const res = await fetch(`${vx.httpUrl}/v1/tenants/${tenantId}/events/stream`, {
      headers: { authorization: `Bearer ${tenantKey.key}` },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text)) {
        const next = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error(`no ${pattern} in: ${text}`)),
              Math.max(1, deadline - Date.now()),
            ),
          ),
        ]);
        if (next.done) throw new Error(`stream ended: ${text}`);
        text += next.value;
      }
    };
    await readUntil(/: voxgate live events/);

    const page = browser ? await browser.newPage() : undefined;
    const bob = await SipPhone.open('bob', 'bob-password', vx.sipUdpPort!, DOMAIN);
    try {
      if (page) {
        await signIn(page, KEY);
        await page.selectOption('[data-testid=tenant-select]', tenantId);
        await page.goto(`${vx.httpUrl}/console#/registrations`);
        await page.waitForSelector('[data-testid=live-state][data-connected=true]');
      }
      assert.equal((await bob.register()).status, 200);
      await readUntil(/event: registration\.changed\ndata: .*"aor":"sip:bob@console\.example"/);
      const data = /event: registration\.changed\ndata: (.*)\n/.exec(text)![1]!;
      const event = JSON.parse(data) as { tenantId: string; data: { kind: string; transport: string } };
      assert.equal(event.tenantId, tenantId);
      assert.equal(event.data.kind, 'registered');
      assert.equal(event.data.transport, 'udp');
      if (page) {
        // No reload: the page refreshed its list because the stream said so.
        await page.waitForSelector('[data-testid=list] tr[data-aor="sip:bob@console.example"]', {
          timeout: 5000,
        });
        await shot(page, 'console-registrations');
      }
    } finally {
      controller.abort();
      await bob.register(0).catch(() => undefined);
      bob.close();
      await page?.close();
    }
  });

  test(
    'live calls: a call between two phones shows up live, is hung up from the console, and its CDR is in the records and charts',
    { skip: browserSkip },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous tests');
      const alice = await SipPhone.open('alice', 'alice-password', vx.sipUdpPort!, DOMAIN);
      const bob = await SipPhone.open('bob', 'bob-password', vx.sipUdpPort!, DOMAIN);
      const page = await browser!.newPage();
      try {
        assert.equal((await alice.register()).status, 200);
        assert.equal((await bob.register()).status, 200);
        await signIn(page, KEY);
        await page.selectOption('[data-testid=tenant-select]', tenantId);
        await page.goto(`${vx.httpUrl}/console#/calls`);
        await page.waitForSelector('[data-testid=live-state][data-connected=true]');

        const call = await alice.invite('bob', sdp(await freeUdpPort()));
        const invite = (await bob.request('INVITE')) as SipRequest;
        // It rings first: the CDR's ringingAt, the post-dial delay chart.
        bob.reply(invite, 180, 'Ringing', 'console');
        await alice.response(call.callId, 180);
        bob.reply(invite, 200, 'OK', 'console', {}, sdp(await freeUdpPort()));
        assert.equal((await call.final()).status, 200);
        call.ack();
        const row = `[data-testid=list] tr[data-call-id="${call.callId}"]`;
        await page.waitForSelector(`${row} td:text-is("answered")`, { timeout: 5000 });
        await shot(page, 'console-live-calls');
        await page.click(`${row} button:text-is("Hang up")`);
        alice.reply((await alice.request('BYE')) as SipRequest, 200, 'OK', 'console');
        bob.reply((await bob.request('BYE')) as SipRequest, 200, 'OK', 'console');
        await page.waitForSelector(row, { state: 'detached', timeout: 5000 });

        // The worker writes the CDR from the call's events.
        const cdr = await until('the CDR', async () => {
          const cdrs = (await api(`/tenants/${tenantId}/calls`)) as {
            items: { callId: string; startedAt: string; ringingAt: string | null; answeredAt: string }[];
          };
          return cdrs.items.find((c) => c.callId === call.callId);
        });
        assert.match(cdr.ringingAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.ok(cdr.startedAt <= cdr.ringingAt! && cdr.ringingAt! <= cdr.answeredAt, JSON.stringify(cdr));
        await page.goto(`${vx.httpUrl}/console#/cdrs`);
        await page.waitForSelector(`[data-testid=list] tr[data-call-id="${call.callId}"] td:text-is("api")`);
        assert.notEqual(await page.textContent('[data-testid=kpi-calls]'), '0');
        assert.equal(await page.textContent('[data-testid=kpi-asr]'), '100.0 %');
        assert.match((await page.textContent('[data-testid=kpi-pdd]')) ?? '', /^\d+(\.\d)? m?s$/);
        assert.equal(await page.locator('[data-testid=chart-pdd] svg rect.bar').count(), 1);
        await shot(page, 'console-cdrs');
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click('[data-testid=export-csv]'),
        ]);
        const csv = await readFile(await download.path(), 'utf8');
        assert.match(csv, /^callId,direction,from,to,/);
        assert.ok(csv.includes(call.callId), csv);

        await page.goto(`${vx.httpUrl}/console#/audit`);
        await page.waitForSelector('[data-testid=page-audit] td:text-is("live-call")');
        await shot(page, 'console-audit');
      } finally {
        await alice.register(0).catch(() => undefined);
        await bob.register(0).catch(() => undefined);
        alice.close();
        bob.close();
        await page.close();
      }
    },
  );

  test(
    'live calls: a call transferred from the console (the caller stays, connected to a third phone)',
    { skip: browserSkip },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous tests');
      await api(`/tenants/${tenantId}/users`, { username: 'carol', password: 'carol-password' });
      const alice = await SipPhone.open('alice', 'alice-password', vx.sipUdpPort!, DOMAIN);
      const bob = await SipPhone.open('bob', 'bob-password', vx.sipUdpPort!, DOMAIN);
      const carol = await SipPhone.open('carol', 'carol-password', vx.sipUdpPort!, DOMAIN);
      const page = await browser!.newPage();
      try {
        for (const phone of [alice, bob, carol]) assert.equal((await phone.register()).status, 200);
        await signIn(page, KEY);
        await page.selectOption('[data-testid=tenant-select]', tenantId);
        await page.goto(`${vx.httpUrl}/console#/calls`);
        await page.waitForSelector('[data-testid=live-state][data-connected=true]');

        const call = await alice.invite('bob', sdp(await freeUdpPort()));
        bob.reply(
          (await bob.request('INVITE')) as SipRequest,
          200,
          'OK',
          'console',
          {},
          sdp(await freeUdpPort()),
        );
        assert.equal((await call.final()).status, 200);
        call.ack();
        const row = `[data-testid=list] tr[data-call-id="${call.callId}"]`;
        await page.waitForSelector(`${row} td:text-is("answered")`, { timeout: 5000 });
        await page.click(`${row} button:text-is("Transfer")`);
        // The form is the API's own transfer body: a problem names its field.
        await page.selectOption('[data-testid=transfer] select[name=party]', 'caller');
        await page.click('[data-testid=transfer] button[type=submit]');
        await page.waitForSelector('[data-testid=transfer] [data-field=target] .field-error');
        await page.fill('[data-testid=transfer] input[name=target]', 'carol');
        await page.click('[data-testid=transfer] button[type=submit]');
        await page.waitForSelector('[data-testid=transfer]', { state: 'detached' });

        const toCarol = (await carol.request('INVITE', 10_000)) as SipRequest;
        carol.reply(toCarol, 200, 'OK', 'console', {}, sdp(await freeUdpPort()));
        bob.reply((await bob.request('BYE', 10_000)) as SipRequest, 200, 'OK', 'console');
        // The transferred call is live under an id of its own: alice and carol.
        await page.waitForSelector(row, { state: 'detached', timeout: 10_000 });
        await page.waitForSelector('[data-testid=list] tr:has(td:text-is("sip:carol@console.example"))', {
          timeout: 10_000,
        });
        await shot(page, 'console-transferred');
        await page.click(
          '[data-testid=list] tr:has(td:text-is("sip:carol@console.example")) button:text-is("Hang up")',
        );
        alice.reply((await alice.request('BYE', 10_000)) as SipRequest, 200, 'OK', 'console');
        carol.reply((await carol.request('BYE', 10_000)) as SipRequest, 200, 'OK', 'console');
        await page.waitForSelector('[data-testid=list] tbody tr', { state: 'detached', timeout: 10_000 });
      } finally {
        for (const phone of [alice, bob, carol]) {
          await phone.register(0).catch(() => undefined);
          phone.close();
        }
        await page.close();
      }
    },
  );

  test(
    'the phone page registers over WebSocket and calls another user, who answers',
    { skip: browserSkip },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous tests');
      const bob = await SipPhone.open('bob', 'bob-password', vx.sipUdpPort!, DOMAIN);
      const page = await browser!.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      try {
        assert.equal((await bob.register()).status, 200);
        await page.goto(`${vx.httpUrl}/console/phone`);
        // The WebSocket URL comes from /console/config.json.
        await until('the default server', async () =>
          (await page.inputValue('#sip-server')) === `ws://127.0.0.1:${wsPort}` ? true : undefined,
        );
        await page.fill('#sip-username', 'alice');
        await page.fill('#sip-password', 'alice-password');
        await page.fill('#sip-domain', DOMAIN);
        await page.click('button[type=submit]');
        await page.waitForSelector('[data-testid=phone-status][data-status=registered]', { timeout: 10_000 });
        const registrations = (await api(`/tenants/${tenantId}/registrations`)) as {
          items: { aor: string; transport: string }[];
        };
        assert.ok(
          registrations.items.some((r) => r.aor === `sip:alice@${DOMAIN}` && r.transport === 'ws'),
          JSON.stringify(registrations),
        );

        await page.fill('.dial-target', 'bob');
        await page.click('[data-testid=call]');
        const invite = (await bob.request('INVITE', 10_000)) as SipRequest;
        bob.reply(invite, 200, 'OK', 'console', {}, sdp(await freeUdpPort()));
        await page.waitForSelector('[data-testid=call-state][data-state=talking]', { timeout: 10_000 });
        await shot(page, 'phone-in-call');
        await page.click('[data-testid=mute]');
        assert.equal(await page.getAttribute('[data-testid=mute]', 'aria-pressed'), 'true');
        // Hold is a re-INVITE that the other phone answers.
        await page.click('[data-testid=hold]');
        const reInvite = (await bob.waitFor(
          (m) => m.kind === 'request' && m.method === 'INVITE' && m !== invite,
          10_000,
          'the hold re-INVITE',
        )) as SipRequest;
        assert.match(reInvite.body.toString(), /a=(sendonly|inactive)/);
        // RFC 3264 §6.1: the answer to a sendonly stream is recvonly.
        const held = Buffer.from(
          sdp(await freeUdpPort())
            .toString()
            .replace('a=sendrecv', 'a=recvonly'),
        );
        bob.reply(reInvite, 200, 'OK', 'console', {}, held);
        await page.waitForSelector('[data-testid=hold][aria-pressed=true]', { timeout: 10_000 });
        await page.click('[data-testid=hangup]');
        bob.reply((await bob.request('BYE', 10_000)) as SipRequest, 200, 'OK', 'console');
        await page.waitForSelector('[data-testid=call-state][data-state=idle]');

        // And answers: bob calls alice's browser.
        const incoming = await bob.invite('alice', sdp(await freeUdpPort()));
        await page.waitForSelector('[data-testid=call-state][data-state=ringing]', { timeout: 10_000 });
        assert.match((await page.textContent('[data-testid=call-state]')) ?? '', /bob@console\.example/);
        await page.click('[data-testid=answer]');
        const answered = await incoming.final(10_000);
        assert.equal(answered.status, 200);
        assert.match(answered.body.toString(), /^m=audio /m);
        incoming.ack();
        await page.waitForSelector('[data-testid=call-state][data-state=talking]', { timeout: 10_000 });
        incoming.send('BYE');
        assert.equal((await bob.response(incoming.callId, 200, 'BYE')).status, 200);
        await page.waitForSelector('[data-testid=call-state][data-state=idle]');

        const history = await page.locator('[data-testid=history] li').allTextContents();
        assert.equal(history.length, 2, history.join('\n'));
        assert.match(history[0]!, /↙.*bob@console\.example.*\d+ s/);
        assert.match(history[1]!, /↗ sip:bob@console\.example/);

        // Transfer (REFER): alice's browser calls bob, then hands bob over to carol and leaves.
        const carol = await SipPhone.open('carol', 'carol-password', vx.sipUdpPort!, DOMAIN);
        try {
          assert.equal((await carol.register()).status, 200);
          const seen = new Set([invite, reInvite]);
          await page.fill('.dial-target', 'bob');
          await page.click('[data-testid=call]');
          const third = (await bob.waitFor(
            (m) => m.kind === 'request' && m.method === 'INVITE' && !seen.has(m as SipRequest),
            10_000,
            'the third INVITE',
          )) as SipRequest;
          bob.reply(third, 200, 'OK', 'console', {}, sdp(await freeUdpPort()));
          await page.waitForSelector('[data-testid=call-state][data-state=talking]', { timeout: 10_000 });
          await page.fill('.dial-target', 'carol');
          await page.click('[data-testid=transfer]');
          const toCarol = (await carol.request('INVITE', 10_000)) as SipRequest;
          carol.reply(toCarol, 200, 'OK', 'console', {}, sdp(await freeUdpPort()));
          // Once carol answers, the browser's leg is released; bob and carol talk on.
          await page.waitForSelector('[data-testid=call-state][data-state=idle]', { timeout: 10_000 });
          const live = (await api(`/tenants/${tenantId}/calls/live`)) as {
            items: { callId: string; from: string; to: string }[];
          };
          const onward = live.items.find((c) => c.to === `sip:carol@${DOMAIN}`);
          assert.ok(onward, JSON.stringify(live));
          await api(
            `/tenants/${tenantId}/calls/live/${encodeURIComponent(onward.callId)}`,
            undefined,
            'DELETE',
          );
          const bobBye = (await bob.waitFor(
            (m) => m.kind === 'request' && m.method === 'BYE' && m.callId === third.callId,
            10_000,
            "bob's BYE",
          )) as SipRequest;
          bob.reply(bobBye, 200, 'OK', 'console');
          carol.reply((await carol.request('BYE', 10_000)) as SipRequest, 200, 'OK', 'console');
        } finally {
          await carol.register(0).catch(() => undefined);
          carol.close();
        }
        await shot(page, 'phone-history');
      } catch (err) {
        console.error(logs.join('\n'));
        throw err;
      } finally {
        bob.close();
        await page.close();
      }
    },
  );
  test(
    'the phone page talks both ways through the relay: the far end hears its microphone tone, it hears the far end',
    { skip: browserSkip },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous tests');
      await api(`/tenants/${tenantId}/users`, { username: 'erin', password: 'erin-password' });
      await api(`/tenants/${tenantId}/users`, { username: 'dave', password: 'dave-password' });
      // The interop suite's far end: a UDP phone that answers, plays 2000 Hz in G.711 and records what it gets.
      const server = {
        domain: DOMAIN,
        address: '127.0.0.1',
        ports: { udp: vx.sipUdpPort! },
      } as unknown as SipServer;
      const far = await FarEnd.open(server, { username: 'dave', password: 'dave-password' }, FAR_END_TONE_HZ);
      const page = await browser!.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      const heard = (hz: number) =>
        page.evaluate(`window.__voxgatePhone.heardTone(${hz})`) as Promise<{
          ms: number;
          analysedMs: number;
          tones: Record<string, number>;
        }>;
      try {
        await far.register();
        await page.goto(`${vx.httpUrl}/console/phone`);
        await until('the default server', async () =>
          (await page.inputValue('#sip-server')) === `ws://127.0.0.1:${wsPort}` ? true : undefined,
        );
        await page.fill('#sip-username', 'erin');
        await page.fill('#sip-password', 'erin-password');
        await page.fill('#sip-domain', DOMAIN);
        await page.click('button[type=submit]');
        await page.waitForSelector('[data-testid=phone-status][data-status=registered]', { timeout: 10_000 });

        // The browser calls the far end.
        await page.fill('.dial-target', 'dave');
        await page.click('[data-testid=call]');
        const call = await far.nextCall(10_000);
        await page.waitForSelector('[data-testid=call-state][data-state=talking]', { timeout: 10_000 });
        // The browser hears the far end's tone (its analyser on the remote track) …
        const browserHeard = await until(
          'the browser hearing the far end',
          async () => {
            const h = await heard(FAR_END_TONE_HZ);
            return h.ms >= 1000 ? h : undefined;
          },
          15_000,
        ).catch(async (err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(await heard(FAR_END_TONE_HZ))}`);
        });
        assert.ok(browserHeard.analysedMs > 0);
        // … and the far end hears the browser's microphone (the fake device's 500 Hz), by Goertzel.
        await until(
          'the far end hearing the browser',
          async () => (hears(call.media.pcm(), CLIENT_TONE_HZ) ? true : undefined),
          15_000,
        ).catch((err: Error) => {
          const pcm = call.media.pcm();
          throw new Error(
            `${err.message}: ${pcm.samples.length / 8000} s received, ${toneFrames(pcm, CLIENT_TONE_HZ)} frames of ` +
              `${CLIENT_TONE_HZ} Hz, from ports ${[...call.media.sources].join(', ')}`,
          );
        });
        // The audio came through the relay, not from the browser directly.
        const [low, high] = rtpPorts;
        assert.ok(call.media.sources.size > 0);
        for (const port of call.media.sources)
          assert.ok(port >= low && port <= high, `RTP from port ${port}`);
        await shot(page, 'phone-talking');
        await page.click('[data-testid=hangup]');
        await call.waitEnded(10_000);
        await page.waitForSelector('[data-testid=call-state][data-state=idle]', { timeout: 10_000 });
      } catch (err) {
        console.error(logs.join('\n'));
        throw err;
      } finally {
        await far.unregister();
        far.close();
        await page.close();
      }
    },
  );
  test(
    'trunks: each trunk with its health as the gateways report it (up, unknown), refreshed without a reload',
    {
      skip: browserSkip,
    },
    async () => {
      assert.ok(tenantId, 'the tenant of the previous tests');
      // A carrier that answers OPTIONS.
      const carrier = createSocket('udp4');
      await new Promise<void>((resolve) => carrier.bind(0, '127.0.0.1', resolve));
      carrier.on('message', (bytes, from) => {
        const message = parseMessage(bytes, { datagram: true });
        if (message.kind === 'request' && message.method !== 'ACK')
          carrier.send(buildResponse(message, 200, 'OK', {}, undefined, 'carrier'), from.port, from.address);
      });
      const page = await browser!.newPage();
      try {
        await signIn(page, KEY);
        await page.selectOption('[data-testid=tenant-select]', tenantId);
        await page.goto(`${vx.httpUrl}/console#/trunks`);
        await page.waitForSelector('[data-testid=page-trunks] [data-testid=list]');
        const up = (await api(`/tenants/${tenantId}/trunks`, {
          name: 'carrier-up',
          host: '127.0.0.1',
          port: carrier.address().port,
        })) as { id: string };
        await api(`/tenants/${tenantId}/trunks`, { name: 'carrier-off', host: '127.0.0.1', enabled: false });
        // The list reloads by itself (every 15 s); the first check comes within a second or two.
        const row = (id: string) => `[data-testid=list] tr[data-id="${id}"]`;
        await page.waitForSelector(`${row(up.id)} [data-testid=trunk-health][data-state=up]`, {
          timeout: 40_000,
        });
        assert.match(
          (await page.textContent(`${row(up.id)} .health-detail`)) ?? '',
          /reachable · checked \d/,
        );
        assert.equal(
          await page.getAttribute(
            '[data-testid=list] tr:has(td:text-is("carrier-off")) [data-testid=trunk-health]',
            'data-state',
          ),
          'unknown',
        );
        await shot(page, 'console-trunks');
      } finally {
        await page.close();
        carrier.close();
      }
    },
  );
});
