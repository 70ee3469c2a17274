// PostgreSQL URLs with several servers (libpq's syntax, src/store/database/postgres-url.ts): what is read, what
// is refused and why, the single-server URLs each server gets, what the client tools are given, and the
// VOXGATE_DATABASE_URL setting that accepts them (a bad one is a one-line configuration error).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describePostgresUrl,
  libpqUrl,
  parsePostgresUrl,
  PostgresUrlError,
  serverUrl,
  toolConnection,
  withDatabase,
} from '../../src/store/database/postgres-url.js';
import { ConfigError, loadConfig } from '../../src/platform/config/index.js';
import { openDatabase } from '../../src/store/index.js';

const refused = (url: string): string => {
  try {
    parsePostgresUrl(url);
  } catch (err) {
    assert.ok(err instanceof PostgresUrlError, String(err));
    assert.ok(!err.message.includes('\n'));
    return err.message;
  }
  assert.fail(`${url} was accepted`);
};

describe('postgres-url: libpq multi-host URLs', () => {
  test('several servers, credentials, database, target_session_attrs and other parameters', () => {
    const u = parsePostgresUrl(
      'postgresql://vox%40gate:p%3Ass@db1.example:5433,10.0.0.2,[::1]:6000/voxgate?target_session_attrs=read-write&sslmode=require&application_name=vx',
    );
    assert.equal(u.scheme, 'postgresql');
    assert.equal(u.user, 'vox@gate');
    assert.equal(u.password, 'p:ss');
    assert.deepEqual(u.servers, [
      { host: 'db1.example', port: 5433 },
      { host: '10.0.0.2', port: 5432 },
      { host: '[::1]', port: 6000 },
    ]);
    assert.equal(u.database, 'voxgate');
    assert.equal(u.targetSessionAttrs, 'read-write');
    assert.equal(u.targetSessionAttrsGiven, true);
    assert.deepEqual(u.params, ['sslmode=require', 'application_name=vx']);
    assert.equal(describePostgresUrl(u), 'db1.example:5433,10.0.0.2:5432,[::1]:6000/voxgate');
    // Each server's own URL for node-postgres: the same credentials and parameters, no target_session_attrs.
    assert.equal(
      serverUrl(u, u.servers[2]!),
      'postgresql://vox%40gate:p%3Ass@[::1]:6000/voxgate?sslmode=require&application_name=vx',
    );
    // What pg_dump gets: every server and target_session_attrs, no password.
    assert.equal(
      libpqUrl(u),
      'postgresql://vox%40gate@db1.example:5433,10.0.0.2:5432,[::1]:6000/voxgate?sslmode=require&application_name=vx&target_session_attrs=read-write',
    );
  });

  test('every mode of target_session_attrs; any when left out; a single server reads too', () => {
    for (const mode of ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']) {
      assert.equal(
        parsePostgresUrl(`postgres://a,b/db?target_session_attrs=${mode}`).targetSessionAttrs,
        mode,
      );
    }
    const one = parsePostgresUrl('postgres://u@h/db');
    assert.deepEqual([one.targetSessionAttrs, one.targetSessionAttrsGiven], ['any', false]);
    assert.deepEqual(one.servers, [{ host: 'h', port: 5432 }]);
    assert.equal(parsePostgresUrl('postgres:///db').servers[0]?.host, '');
    assert.equal(parsePostgresUrl('postgres://u:p@w@h/db').password, 'p@w', 'the last @ ends the userinfo');
  });

  test('refused with a one-line reason that never shows the password', () => {
    assert.match(refused('mysql://a,b/db'), /postgres:\/\/ or postgresql:\/\//);
    assert.match(refused('postgres://u:hunter2@a,,b/db'), /empty entry/);
    assert.match(refused('postgres://a,b:99999/db'), /host 2 of 2 has port "99999"/);
    assert.match(refused('postgres://a,b:x/db'), /host 2 of 2 has port "x"/);
    assert.match(refused('postgres://a,b:/db'), /":" without a port/);
    assert.match(refused('postgres://a,[::1/db'), /unclosed "\["/);
    assert.match(refused('postgres://a,[zz]/db'), /not a valid \[IPv6\]/);
    assert.match(refused('postgres://a,:5433/db'), /host 2 of 2 has no host name/);
    assert.match(refused('postgres://a,b/db?target_session_attrs=writable'), /not one of any, read-write/);
    assert.match(refused('postgres://a,b/db?sslmode'), /not key=value/);
    assert.match(refused('postgres://a,b/db#x'), /fragment/);
    assert.doesNotMatch(refused('postgres://u:hunter2@a,b:0/db'), /hunter2/);
  });

  test('client tools: a single server as before, several kept; withDatabase keeps the password', () => {
    assert.deepEqual(toolConnection('postgres://u:s%40cret@db:5432/voxgate', 'scratch'), {
      url: 'postgres://u@db:5432/scratch',
      password: 's@cret',
    });
    assert.deepEqual(
      toolConnection('postgres://u:s%40cret@a:1,b:2/voxgate?target_session_attrs=read-write'),
      {
        url: 'postgres://u@a:1,b:2/voxgate?target_session_attrs=read-write',
        password: 's@cret',
      },
    );
    assert.equal(
      withDatabase('postgres://u:pw@a:1,b:2/voxgate?target_session_attrs=read-write', 'scratch'),
      'postgres://u:pw@a:1,b:2/scratch?target_session_attrs=read-write',
    );
    assert.equal(withDatabase('postgres://u:pw@db/voxgate', 'scratch'), 'postgres://u:pw@db/scratch');
  });

  test('VOXGATE_DATABASE_URL: several servers accepted; a bad list is one line naming the syntax', () => {
    const url = 'postgres://voxgate:pw@pg-a:5432,pg-b:5432/voxgate?target_session_attrs=read-write';
    assert.equal(loadConfig({ VOXGATE_DATABASE_URL: url }).database.url, url);
    assert.equal(
      loadConfig({ VOXGATE_DATABASE_URL: 'postgresql://u@db/x' }).database.url,
      'postgresql://u@db/x',
    );
    let err: unknown;
    try {
      loadConfig({ VOXGATE_DATABASE_URL: 'postgres://voxgate:pw@pg-a:5432,,pg-b/voxgate' });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /^VOXGATE_DATABASE_URL=\(secret, not shown\) is invalid: expected a postgres:\/\/ or postgresql:\/\/ URL; several servers as postgres:\/\/user@h1:5432,h2:5432\/db\?target_session_attrs=read-write/,
    );
    assert.ok(!err.message.includes('\n') && !err.message.includes('pw@'));
  });

  test('openDatabase refuses a host list that does not parse, saying why', async () => {
    await assert.rejects(
      openDatabase({ url: 'postgres://u:pw@127.0.0.1:1,127.0.0.1:99999/db', dataDir: 'unused' }),
      (err: Error & { code?: string }) =>
        err.code === 'STORE_INVALID_URL' &&
        /^the PostgreSQL URL is invalid: host 2 of 2 has port "99999"/.test(err.message),
    );
  });

  test('openDatabase with no server reachable: STORE_UNREACHABLE naming each server and why', async () => {
    await assert.rejects(
      openDatabase({
        url: 'postgres://u@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-write',
        dataDir: 'unused',
      }),
      (err: Error & { code?: string }) =>
        err.code === 'STORE_UNREACHABLE' &&
        err.message.startsWith('cannot connect to PostgreSQL at 127.0.0.1:1,127.0.0.1:2/db: ') &&
        /127\.0\.0\.1:1: connect ECONNREFUSED.*; 127\.0\.0\.1:2: connect ECONNREFUSED/.test(err.message),
    );
  });
});
