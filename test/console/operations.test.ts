// The console's operations pages in Chromium (playwright-core, Debian's chromium): webhooks (created through
// the form, the secret shown once, edited, its delivery log, deleted), API keys (created with a role and tenant
// scope, the key shown once and working, revoked) and recordings (a stored recording listed, reached from its
// CDR, its audio fetched with the key into the page's <audio>, a file downloaded, deleted). The API runs
// in-process on PGlite with a folder object store, so a recording is seeded as the gateway stores one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  createFolderStore,
  createRecordingRepository,
  openDatabase,
  parseWebhookAllow,
  type ObjectStore,
} from '../../src/store/index.js';
import { ensureConsoleBuilt } from '../helpers/console-build.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';

const CHROMIUM = process.env.VOXGATE_TEST_CHROMIUM ?? '/usr/lib/chromium/chromium';
const browserSkip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set VOXGATE_TEST_CHROMIUM)`;
/** VOXGATE_CONSOLE_SCREENSHOTS=docs/images saves a PNG of each page the tests visit. */
const SCREENSHOTS = process.env.VOXGATE_CONSOLE_SCREENSHOTS;

/** A WAV of `ms` of silence, 16-bit PCM 8 kHz mono (what mixed.wav is). */
function wav(ms: number): Buffer {
  const samples = (8000 * ms) / 1000;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

describe('web console operations pages: webhooks, API keys, recordings', () => {
  let dir: string;
  let store: ObjectStore;
  let vx: ApiApp;
  let url: string;
  let browser: Browser | undefined;
  let admin: string;
  let tenantId: string;

  const shot = async (page: Page, name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  };
  const signIn = async (page: Page, key: string, view: string) => {
    await page.goto(`${url}/console`);
    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=who]');
    await page.goto(`${url}/console#/${view}`);
  };
  const call = async (key: string, method: string, path: string) => {
    const res = await fetch(`${url}/v1${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    return res;
  };

  before(async () => {
    ensureConsoleBuilt();
    dir = await mkdtemp(join(tmpdir(), 'voxgate-console-ops-'));
    store = createFolderStore(join(dir, 'store'));
    vx = await startApiApp(await openDatabase({ dataDir: 'memory://' }), {
      recordings: store,
      webhooks: { allow: parseWebhookAllow('.hooks.example')!, resolve: async () => ['198.51.100.7'] },
      console: {
        dir: join(import.meta.dirname, '..', '..', 'dist', 'console'),
        sipWebSocket: { port: null, securePort: null },
      },
    });
    url = await vx.listen();
    admin = await vx.key(null, 'admin');
    tenantId = await vx.tenant('Ops');
    if (!browserSkip) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });
  after(async () => {
    await browser?.close();
    await vx?.close();
    store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(
    'webhooks: created through the form with its secret shown once, edited, its delivery log, deleted; a viewer changes nothing',
    { skip: browserSkip },
    async () => {
      const page = await browser!.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      try {
        await signIn(page, admin, 'webhooks');
        await page.click('[data-testid=page-webhooks] [data-testid=create]');
        // A host the operator does not allow: the API's problem at the url field.
        await page.fill('[data-testid=editor] input[name=url]', 'https://elsewhere.example/in');
        await page.check('[data-testid=editor] input[name=events][value="call.answered"]');
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector(
          '[data-testid=editor] [data-field=url] .field-error, [data-testid=editor] [data-testid=form-error]',
        );
        await page.fill('[data-testid=editor] input[name=url]', 'https://app.hooks.example/voxgate');
        await page.click('[data-testid=editor] button[type=submit]');
        const secret = (await (await page.waitForSelector('[data-testid=secret]')).textContent()) ?? '';
        assert.match(secret, /^whsec_/);
        await page.waitForSelector('[data-testid=list] td:text-is("https://app.hooks.example/voxgate")');
        assert.match(
          (await page.textContent('[data-testid=list] tbody tr')) ?? '',
          /call\.answered, call\.ended/,
        );
        await shot(page, 'console-webhooks');
        const hooks = (await (await call(admin, 'GET', `/tenants/${tenantId}/webhooks`)).json()) as {
          items: { id: string; events: string[]; enabled: boolean; secret?: string }[];
        };
        assert.deepEqual(hooks.items[0]!.events, ['call.answered', 'call.ended']);
        assert.equal(hooks.items[0]!.secret, undefined, 'the API never gives it again');
        // Once dismissed, the secret is gone from the page.
        await page.click('[data-testid=secret-once] button');
        assert.equal(await page.locator('[data-testid=secret]').count(), 0);
        assert.ok(!(await page.content()).includes(secret));

        // Edit: disable it and drop an event.
        await page.click('[data-testid=list] tbody tr button:text-is("Edit")');
        await page.uncheck('[data-testid=editor] input[name=events][value="call.answered"]');
        await page.uncheck('[data-testid=editor] input[name=enabled]');
        await page.click('[data-testid=editor] button[type=submit]');
        await page.waitForSelector('[data-testid=list] tbody tr td:text-is("no")');
        const edited = (await (
          await call(admin, 'GET', `/tenants/${tenantId}/webhooks/${hooks.items[0]!.id}`)
        ).json()) as {
          events: string[];
          enabled: boolean;
        };
        assert.deepEqual(edited.events, ['call.ended']);
        assert.equal(edited.enabled, false);

        // The delivery log (empty: no call yet).
        await page.click('[data-testid=list] tbody tr button:text-is("Deliveries")');
        await page.waitForSelector('[data-testid=deliveries] :text("Nothing sent to this webhook yet")');

        // A tenant viewer sees the list, the log button, and nothing that changes a webhook.
        const viewer = await vx.key(tenantId, 'viewer');
        const other = await browser!.newPage();
        try {
          await signIn(other, viewer, 'webhooks');
          await other.waitForSelector('[data-testid=list] td:text-is("https://app.hooks.example/voxgate")');
          assert.equal(
            await other
              .locator('[data-testid=create], button:text-is("Edit"), button:text-is("Delete")')
              .count(),
            0,
          );
          assert.equal(await other.locator('nav a:text-is("API keys")').count(), 0);
        } finally {
          await other.close();
        }

        await page.click('[data-testid=list] tbody tr button:text-is("Delete")');
        await page.waitForSelector('[data-testid=page-webhooks] :text("No webhook")');
        const after = (await (await call(admin, 'GET', `/tenants/${tenantId}/webhooks`)).json()) as {
          items: unknown[];
        };
        assert.equal(after.items.length, 0);
      } finally {
        await page.close();
      }
    },
  );

  test(
    'API keys: created with a role and a tenant scope, the key shown once and working, then revoked',
    { skip: browserSkip },
    async () => {
      const page = await browser!.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      try {
        await signIn(page, admin, 'api-keys');
        await page.waitForSelector('[data-testid=page-api-keys] [data-testid=list]');
        await page.click('[data-testid=page-api-keys] [data-testid=create]');
        await page.fill('[data-testid=editor] input[name=name]', 'night operator');
        await page.selectOption('[data-testid=editor] select[name=role]', 'operator');
        await page.selectOption('[data-testid=editor] select[name=tenantId]', tenantId);
        await page.click('[data-testid=editor] button[type=submit]');
        const key = (await (await page.waitForSelector('[data-testid=new-key]')).textContent()) ?? '';
        assert.match(key, /^vxg_/);
        const row = page.locator('[data-testid=list] tbody tr:has(td:text-is("night operator"))');
        await row.waitFor();
        assert.match((await row.textContent()) ?? '', /operator.*Ops \(ops\.example\)/);
        await shot(page, 'console-api-keys');
        const whoami = (await (await call(key, 'GET', '/whoami')).json()) as {
          role: string;
          tenantId: string;
        };
        assert.deepEqual([whoami.role, whoami.tenantId], ['operator', tenantId]);

        await row.locator('button:text-is("Revoke")').click();
        await row.waitFor({ state: 'detached' });
        assert.equal((await call(key, 'GET', '/whoami')).status, 401, 'the key stopped working');
        // Revoked keys are listed on request, without a revoke button.
        await page.check('input[name=showRevoked]');
        const revoked = page.locator('[data-testid=list] tbody tr:has(td:text-is("night operator"))');
        await revoked.waitFor();
        assert.equal(await revoked.locator('button').count(), 0);
      } finally {
        await page.close();
      }
    },
  );

  test(
    'recordings: a stored recording listed (and reached from its CDR), its audio played through the key, a file downloaded, deleted',
    { skip: browserSkip },
    async () => {
      // Stored as the gateway stores one: files in the object store, the row in the recordings table.
      const callId = 'rec-call-1@console.test';
      const audio = wav(500);
      const local = join(dir, 'mixed.wav');
      await writeFile(local, audio);
      await store.putFile(`${tenantId}/rec-1/mixed.wav`, local);
      const recording = await createRecordingRepository(vx.db).add({
        tenantId,
        callId,
        startedAt: new Date(Date.now() - 60_000),
        endedAt: new Date(Date.now() - 30_000),
        files: [{ name: 'mixed.wav', key: `${tenantId}/rec-1/mixed.wav` }],
      });
      await vx.db.query(
        `INSERT INTO cdrs (call_id, tenant_id, direction, from_party, to_party, started_at, answered_at, ended_at, duration_seconds, disposition)
       VALUES ($1, $2, 'internal', 'sip:alice@ops.example', 'sip:bob@ops.example', now() - interval '1 minute', now() - interval '50 seconds', now(), 50, 'answered')`,
        [callId, tenantId],
      );
      const page = await browser!.newPage({ acceptDownloads: true });
      page.on('dialog', (dialog) => void dialog.accept());
      try {
        await signIn(page, admin, 'cdrs');
        await page.click(`[data-testid=list] tr[data-call-id="${callId}"] [data-testid=recordings-link]`);
        await page.waitForSelector(`[data-testid=page-recordings] tr[data-id="${recording.id}"]`);
        assert.equal(await page.inputValue('[data-testid=page-recordings] input[name=callId]'), callId);

        await page.click(`tr[data-id="${recording.id}"] [data-testid=play]`);
        const player = await page.waitForSelector('[data-testid=player]');
        assert.match((await player.getAttribute('src')) ?? '', /^blob:/);
        // The <audio> has the recording's bytes (fetched with the key) and can play them.
        // (A string: the test is type-checked without DOM types.)
        const duration = await page.waitForFunction(
          `(() => { const a = document.querySelector('audio'); ` +
            `return a && a.readyState >= 1 && Number.isFinite(a.duration) ? a.duration : undefined; })()`,
        );
        assert.ok(Math.abs(Number(await duration.jsonValue()) - 0.5) < 0.05, 'half a second of audio');
        await shot(page, 'console-recordings');

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click(`tr[data-id="${recording.id}"] [data-testid=download][data-file="mixed.wav"]`),
        ]);
        assert.equal(download.suggestedFilename(), `${recording.id}-mixed.wav`);
        const saved = join(dir, 'downloaded.wav');
        await download.saveAs(saved);
        assert.deepEqual(await readFile(saved), audio);

        await page.click(`tr[data-id="${recording.id}"] button:text-is("Delete")`);
        await page.waitForSelector(`tr[data-id="${recording.id}"]`, { state: 'detached' });
        assert.equal(
          (await call(admin, 'GET', `/tenants/${tenantId}/recordings/${recording.id}`)).status,
          404,
        );
        assert.deepEqual(await store.list(''), []);
      } finally {
        await page.close();
      }
    },
  );
});
