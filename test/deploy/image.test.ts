// The image itself, built and run with a real Docker engine (issue #18): read-only root file system, uid 1000,
// tmpfs /tmp, a data volume, host networking (every listener on a free loopback port, nothing leaves the
// machine). HEALTHCHECK turns healthy; a tenant and two users are provisioned through the API with the admin
// key from the environment; SIPp registers with digest and places a call whose G.711 audio goes through the
// container's gateway and relay; the worker's backup and restore-test jobs run inside the image against
// PostgreSQL with the image's own pg_dump/pg_restore; SIGTERM ends it with exit code 0 within the grace.
//
// The image is VOXGATE_TEST_IMAGE, else voxgate:dev, built by scripts/ci/build-image.sh when missing (local
// bases and no registry where buildx is missing, as here). Skipped when no Docker engine answers, except with CI=true and docker installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import {
  runSipp,
  sippCalleeArgs,
  sippCallerArgs,
  sippInstalled,
  sippPort,
  sippRegisterArgs,
  startSipp,
} from '../helpers/sipp.js';
import { docker, dockerSkipReason, sleep } from './docker.js';

const skip =
  dockerSkipReason() ?? (sippInstalled() ? undefined : 'sipp (Debian sip-tester) is not installed');
const IMAGE = process.env.VOXGATE_TEST_IMAGE ?? 'voxgate:dev';
const KEY = `vxg_img${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const GRACE_SECONDS = 10;

describe(
  'the image, run read-only as uid 1000: healthy, provisioned, a SIPp call, backups, SIGTERM',
  { skip },
  () => {
    const name = `voxgate-image-test-${randomBytes(4).toString('hex')}`;
    const volume = `${name}-data`;
    let database: { url: string; drop: () => Promise<void> } | undefined;
    let apiUrl = '';
    let sipPort = 0;
    let tenantId = '';
    const figures: Record<string, number | string> = {};

    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`${apiUrl}/v1${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.json()) as Record<string, unknown>;
      assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const logs = async () => (await docker(['logs', '--tail', '60', name])).stderr.slice(-6000);

    // Building the image (when missing) takes minutes: longer than a test's default limit.
    before(
      async () => {
        const inspect = await docker(['image', 'inspect', IMAGE]);
        if (inspect.code !== 0) {
          // With buildx (GitHub's runners) the upstream bases; without (here) the local ones, no registry.
          const build = spawnSync('scripts/ci/build-image.sh', {
            env: { ...process.env, VOXGATE_IMAGE: IMAGE },
            encoding: 'utf8',
            timeout: 900_000,
          });
          assert.equal(build.status, 0, `scripts/ci/build-image.sh: ${build.stderr.slice(-3000)}`);
        }
        figures.imageBytes = (await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE])).stdout.trim();
        assert.ok(
          await postgresAvailable(),
          'PostgreSQL on 127.0.0.1:5432 (scripts/ci/services.sh) for the backup job',
        );
        database = await createScratchDatabase();
      },
      { timeout: 900_000 },
    );

    after(async () => {
      await docker(['rm', '-f', name]);
      await docker(['volume', 'rm', '-f', volume]);
      await database?.drop();
      console.log(`image test figures: ${JSON.stringify(figures)}`);
    });

    test('starts read-only as uid 1000 and HEALTHCHECK turns healthy', { timeout: 180_000 }, async () => {
      sipPort = await freeUdpPort();
      const apiPort = await freeUdpPort();
      const ngPort = await freeUdpPort();
      const rtpMin = 41_000 + 2 * Math.floor(Math.random() * 5_000);
      apiUrl = `http://127.0.0.1:${apiPort}`;
      const started = Date.now();
      const run = await docker([
        'run',
        '--detach',
        '--name',
        name,
        '--network',
        'host',
        '--read-only',
        '--user',
        '1000:1000',
        '--tmpfs',
        '/tmp',
        '--volume',
        `${volume}:/var/lib/voxgate`,
        '--env',
        `VOXGATE_ADMIN_API_KEY=${KEY}`,
        '--env',
        `VOXGATE_DATABASE_URL=${database!.url}`,
        '--env',
        'VOXGATE_ADVERTISED_ADDRESS=127.0.0.1',
        '--env',
        `VOXGATE_SIP_PORT=${sipPort}`,
        '--env',
        'VOXGATE_SIP_WS_PORT=0',
        '--env',
        'VOXGATE_API_HOST=127.0.0.1',
        '--env',
        `VOXGATE_API_PORT=${apiPort}`,
        '--env',
        `VOXGATE_MEDIA_NG=127.0.0.1:${ngPort}`,
        '--env',
        `VOXGATE_RTP_PORT_MIN=${rtpMin}`,
        '--env',
        `VOXGATE_RTP_PORT_MAX=${rtpMin + 99}`,
        '--env',
        `VOXGATE_SHUTDOWN_GRACE_SECONDS=${GRACE_SECONDS}`,
        IMAGE,
        '--target=all',
      ]);
      assert.equal(run.code, 0, run.stderr);

      let ready = 0;
      let health = '';
      for (const stop = Date.now() + 150_000; Date.now() < stop; await sleep(250)) {
        if (!ready) {
          const res = await fetch(`${apiUrl}/healthz`).catch(() => undefined);
          if (res?.ok) ready = Date.now();
        }
        health = (await docker(['inspect', '-f', '{{.State.Health.Status}}', name])).stdout.trim();
        if (health === 'healthy' || health === 'unhealthy') break;
      }
      assert.equal(health, 'healthy', await logs());
      figures.secondsToHealthz = (ready - started) / 1000;
      figures.secondsToHealthy = (Date.now() - started) / 1000;

      const config = JSON.parse((await docker(['inspect', '-f', '{{json .HostConfig}}', name])).stdout) as {
        ReadonlyRootfs: boolean;
      };
      assert.equal(config.ReadonlyRootfs, true);
      const id = await docker(['exec', name, 'id', '-u']);
      assert.equal(id.stdout.trim(), '1000');
      const write = await docker(['exec', name, 'sh', '-c', 'touch /app/x']);
      assert.notEqual(write.code, 0, 'the root file system is read-only');
    });

    test(
      'provisioned through the API; SIPp registers with digest and calls; audio through the relay',
      { timeout: 120_000 },
      async () => {
        assert.ok(tenantId === '' && apiUrl, 'the container is running');
        tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).id as string;
        await api(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
        await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });
        const target = `127.0.0.1:${sipPort}`;

        const bobPort = await sippPort();
        const reg = await runSipp(
          'register-digest.xml',
          target,
          sippRegisterArgs('bob', 'bob-pass', bobPort),
        );
        assert.equal(reg.code, 0, `bob did not register\n${reg.logs}\n${await logs()}`);
        const uas = startSipp('uas-answer.xml', target, await sippCalleeArgs(bobPort));
        await sleep(300);
        const uac = await runSipp('uac-call.xml', target, await sippCallerArgs('alice-pass'));
        const kill = setTimeout(() => uas.kill(), 10_000);
        const callee = await uas.exited;
        clearTimeout(kill);
        assert.equal(uac.code, 0, `caller failed\n${uac.logs}\n${await logs()}`);
        assert.equal(callee, 0, `callee failed\n${uas.logs()}`);

        // The caller played G.711 to the relay, the callee echoed it back through the relay.
        let relayed = 0;
        let answered = false;
        for (const stop = Date.now() + 10_000; Date.now() < stop; await sleep(200)) {
          const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
          relayed = [
            ...metrics.matchAll(/^voxgate_media_packets_relayed_total(?:\{[^}]*\})? (\d+)/gm),
          ].reduce((sum, m) => sum + Number(m[1]), 0);
          answered = /^voxgate_calls_total\{disposition="answered"\} 1$/m.test(metrics);
          if (answered && relayed > 40) break;
        }
        assert.ok(answered, 'one answered call in voxgate_calls_total');
        assert.ok(relayed > 40, `RTP packets relayed by the container's relay: ${relayed}`);
        figures.rtpPacketsRelayed = relayed;
      },
    );

    test(
      "the worker's backup and restore-test jobs run inside the image (its pg_dump, pg_restore)",
      { timeout: 120_000 },
      async () => {
        // The jobs run daily and weekly; this runs the same job objects the worker schedules, once, in the
        // running container (same user, read-only root, data volume), against the database the container uses.
        const script = `
      import { openDatabase, createFolderStore } from '/app/dist/src/store/index.js';
      import { databaseBackupJob, restoreTestJob } from '/app/dist/src/jobs/database-backup.js';
      const url = process.env.VOXGATE_DATABASE_URL;
      const db = await openDatabase({ url, dataDir: '/var/lib/voxgate', poolSize: 2 });
      const store = createFolderStore('/var/lib/voxgate/backups');
      const spoolDir = '/var/lib/voxgate/backups/.spool';
      const out = {};
      await databaseBackupJob({ db, databaseUrl: url, store, spoolDir, everyMs: 3600000,
        onStored: (m) => (out.stored = m) }).runNow();
      await restoreTestJob({ db, databaseUrl: url, store, spoolDir, everyMs: 86400000,
        onChecked: (m) => (out.checked = m.dumpKey) }).runNow();
      await db.close();
      console.log(JSON.stringify(out));
    `;
        const version = await docker(['exec', name, 'pg_dump', '--version']);
        assert.equal(version.code, 0, version.stderr);
        figures.pgDump = version.stdout.trim();
        const run = await docker(['exec', name, 'node', '--input-type=module', '-e', script], {
          timeoutMs: 100_000,
        });
        assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
        const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
          stored: { dumpKey: string; sizeBytes: number; tables: Record<string, number> };
          checked: string;
        };
        assert.ok(out.stored.sizeBytes > 0);
        assert.ok((out.stored.tables.sip_users ?? 0) >= 2, JSON.stringify(out.stored.tables));
        assert.equal(out.checked, out.stored.dumpKey, 'the restore test checked the backup just taken');
        const files = await docker(['exec', name, 'ls', '/var/lib/voxgate/backups/backups']);
        assert.match(files.stdout, /\.dump/);
      },
    );

    test('SIGTERM: drains and exits 0 within the grace', { timeout: 60_000 }, async () => {
      const began = Date.now();
      // docker stop sends the image's STOPSIGNAL (SIGTERM), then SIGKILL after -t seconds (exit code 137).
      const stop = await docker(['stop', '-t', String(GRACE_SECONDS + 10), name]);
      assert.equal(stop.code, 0, stop.stderr);
      figures.secondsToStop = (Date.now() - began) / 1000;
      const state = (
        await docker(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', name])
      ).stdout.trim();
      assert.equal(state, '0 false', await logs());
      assert.ok(Date.now() - began < GRACE_SECONDS * 1000 + 5000, `stopped in ${figures.secondsToStop} s`);
    });
  },
);
