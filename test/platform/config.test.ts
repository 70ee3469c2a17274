import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  deprecatedNames,
  formatEffectiveConfig,
  loadConfig,
  parseEnvText,
  parseHostPort,
  variables,
} from '../../src/platform/config/index.js';
import { runCli } from '../../src/platform/cli.js';
import { advertisedAddresses } from '../../src/platform/advertised-addresses.js';
import { defaultAdvertisedHost } from '../../src/gateway/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  test('defaults are the documented ports and embedded stores', () => {
    const config = loadConfig({});
    assert.equal(config.sip.port, 5060);
    assert.equal(config.sip.tls, undefined);
    assert.equal(config.http.port, 8080);
    assert.deepEqual(config.media.ng, { host: '127.0.0.1', port: 22222 });
    assert.equal(config.media.rtpPortMin, 30000);
    assert.equal(config.media.rtpPortMax, 40000);
    assert.equal(config.database.url, undefined);
    assert.equal(config.redis.url, undefined);
    assert.equal(config.dataDir, './data');
    assert.equal(config.shutdownGraceMs, 30_000);
  });

  test('values from the environment are parsed into types', () => {
    const config = loadConfig({
      VOXGATE_SIP_PORT: '5080',
      VOXGATE_MEDIA_NG: '[::1]:2223',
      VOXGATE_DATABASE_URL: 'postgres://u:p@db:5432/voxgate',
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '5',
    });
    assert.equal(config.sip.port, 5080);
    assert.deepEqual(config.media.ng, { host: '::1', port: 2223 });
    assert.equal(config.database.url, 'postgres://u:p@db:5432/voxgate');
    assert.equal(config.shutdownGraceMs, 5000);
  });

  test('a bad value is one line naming the variable, the value and what is allowed', () => {
    const err = configError(() => loadConfig({ VOXGATE_SIP_PORT: 'five' }));
    assert.equal(err.code, 'CONFIG_INVALID_VALUE');
    assert.equal(err.message, 'VOXGATE_SIP_PORT="five" is invalid: expected an integer port from 0 to 65535');
    assert.ok(!err.message.includes('\n'));
  });

  test('a bad secret is named without its value', () => {
    const err = configError(() => loadConfig({ VOXGATE_DATABASE_URL: 'mysql://root:hunter2@db/x' }));
    assert.match(err.message, /^VOXGATE_DATABASE_URL=\(secret, not shown\) is invalid: expected a postgres/);
    assert.ok(!err.message.includes('hunter2'));
  });

  test('an unknown VOXGATE_ variable is refused with the likely intended name', () => {
    const err = configError(() => loadConfig({ VOXGATE_SIP_POTR: '5060' }));
    assert.equal(err.code, 'CONFIG_UNKNOWN_VARIABLE');
    assert.match(err.message, /unknown setting VOXGATE_SIP_POTR \(did you mean VOXGATE_SIP_PORT\?\)/);
  });

  test('digest algorithms: an ordered list of SHA-256 and MD5, MD5 alone by default (one challenge)', () => {
    assert.deepEqual(loadConfig({}).sip.digestAlgorithms, ['MD5']);
    assert.deepEqual(loadConfig({ VOXGATE_SIP_DIGEST_ALGORITHMS: 'SHA-256,MD5' }).sip.digestAlgorithms, [
      'SHA-256',
      'MD5',
    ]);
    assert.deepEqual(loadConfig({ VOXGATE_SIP_DIGEST_ALGORITHMS: 'MD5,SHA-256' }).sip.digestAlgorithms, [
      'MD5',
      'SHA-256',
    ]);
    assert.match(
      configError(() => loadConfig({ VOXGATE_SIP_DIGEST_ALGORITHMS: 'SHA1' })).message,
      /^VOXGATE_SIP_DIGEST_ALGORITHMS="SHA1" is invalid: expected SHA-256, MD5, or both/,
    );
  });

  test('cross-field rules: RTP range and TLS pair', () => {
    assert.match(
      configError(() => loadConfig({ VOXGATE_RTP_PORT_MIN: '40000', VOXGATE_RTP_PORT_MAX: '30000' })).message,
      /VOXGATE_RTP_PORT_MIN=40000 is invalid: expected less than VOXGATE_RTP_PORT_MAX=30000/,
    );
    assert.match(
      configError(() => loadConfig({ VOXGATE_SIP_TLS_CERT: '/etc/tls.crt' })).message,
      /VOXGATE_SIP_TLS_KEY is missing/,
    );
  });

  test('config print masks secrets and keeps the rest', () => {
    const text = formatEffectiveConfig({
      VOXGATE_DATABASE_URL: 'postgres://voxgate:s3cret@db:5432/voxgate',
      VOXGATE_ADMIN_API_KEY: 'vxg_abc_0123456789abcdefghijklmnop',
    });
    assert.match(text, /^VOXGATE_DATABASE_URL=postgres:\/\/voxgate:\*\*\*\*@db:5432\/voxgate {2}# set/m);
    assert.match(text, /^VOXGATE_ADMIN_API_KEY=\*\*\*\* {2}# set/m);
    assert.match(text, /^VOXGATE_SIP_PORT=5060 {2}# default/m);
    assert.ok(!text.includes('s3cret'));
    assert.ok(!text.includes('0123456789abcdefghijklmnop'));
  });

  test('config print masks the password of a URL with several servers and keeps its hosts', () => {
    const text = formatEffectiveConfig({
      VOXGATE_DATABASE_URL:
        'postgres://voxgate:s3cret@db1:5432,db2:5432/voxgate?target_session_attrs=read-write',
    });
    assert.match(
      text,
      /^VOXGATE_DATABASE_URL=postgres:\/\/voxgate:\*\*\*\*@db1:5432,db2:5432\/voxgate\?target_session_attrs=read-write {2}# set/m,
    );
    assert.ok(!text.includes('s3cret'));
  });

  test('VOXGATE_REDIS_URL: several sentinels or Cluster seeds are accepted; a bad one is one line', () => {
    for (const url of [
      'redis://:pw@cache:6379/0',
      'redis+sentinel://:pw@s1:26379,s2:26379,s3:26379/voxgate',
      'redis+cluster://n1:6379,n2:6379,n3:6379',
      'rediss+cluster://n1:6379,n2:6379',
    ])
      assert.equal(loadConfig({ VOXGATE_REDIS_URL: url }).redis.url, url);
    for (const url of ['redis+sentinel://s1:26379,s2:26379', 'redis://a:1,b:2', 'memcached://cache:11211']) {
      const err = configError(() => loadConfig({ VOXGATE_REDIS_URL: url }));
      assert.match(err.message, /^VOXGATE_REDIS_URL=\(secret, not shown\) is invalid: expected a redis:\/\//);
      assert.ok(!err.message.includes('\n'));
    }
    const text = formatEffectiveConfig({
      VOXGATE_REDIS_URL: 'redis+sentinel://:s3cret@s1:26379,s2:26379/voxgate',
    });
    assert.match(
      text,
      /^VOXGATE_REDIS_URL=redis\+sentinel:\/\/:\*\*\*\*@s1:26379,s2:26379\/voxgate {2}# set/m,
    );
    assert.ok(!text.includes('s3cret'));
  });

  test('env files: comments, quotes, export prefix; a bad line names file and line', () => {
    const parsed = parseEnvText(
      '# comment\n\nexport VOXGATE_ENV=staging\nVOXGATE_DATA_DIR="/var/lib/voxgate" # trailing\nVOXGATE_LOG_LEVEL=debug # why\n',
      'x.env',
    );
    assert.deepEqual(parsed, {
      VOXGATE_ENV: 'staging',
      VOXGATE_DATA_DIR: '/var/lib/voxgate',
      VOXGATE_LOG_LEVEL: 'debug',
    });
    const err = configError(() => parseEnvText('VOXGATE_ENV=dev\nthis is not a setting\n', 'x.env'));
    assert.equal(err.message, 'x.env:2: expected KEY=VALUE, got "this is not a setting"');
  });

  test('every setting has a type, a default or a required flag, and a description', () => {
    assert.ok(variables.size >= 45);
    for (const [name, { setting }] of variables) {
      assert.match(name, /^VOXGATE_[A-Z0-9_]+$/);
      assert.ok(setting.type, `${name} has a type`);
      assert.ok(setting.expects.length > 0, `${name} says what it expects`);
      assert.ok(setting.description.length > 10, `${name} has a description`);
      assert.equal(typeof setting.required, 'boolean', `${name} has a required flag`);
      assert.ok(setting.default === undefined || !setting.required, `${name}: a default is not required`);
      if (setting.default !== undefined) {
        assert.ok(
          setting.schema.safeParse(setting.default).success,
          `${name}'s default ${setting.default} is valid`,
        );
      }
    }
  });

  test('an invalid value of any setting is one line naming the variable', () => {
    for (const [name, { setting }] of variables) {
      if (setting.schema.safeParse('\u0000 not valid').success) continue;
      const err = configError(() => loadConfig({ [name]: '\u0000 not valid' }));
      assert.equal(err.code, 'CONFIG_INVALID_VALUE');
      assert.ok(err.message.startsWith(`${name}=`), err.message);
      assert.ok(err.message.includes(`expected ${setting.expects}`), err.message);
      assert.ok(!err.message.includes('\n'), err.message);
    }
  });

  test('host:port is read once, IPv6 aware, for the ng address and the gateway relays', () => {
    assert.deepEqual(parseHostPort('[::1]:5060'), { host: '::1', port: 5060 });
    assert.deepEqual(parseHostPort('relay.example:22222'), { host: 'relay.example', port: 22222 });
    assert.equal(parseHostPort('::1:5060'), undefined);
    assert.equal(parseHostPort('relay:70000'), undefined);
    assert.equal(parseHostPort('relay'), undefined);
    assert.deepEqual(
      loadConfig({ VOXGATE_GATEWAY_MEDIA_RELAYS: '[2001:db8::1]:2223,r2:2224' }).calls.relays,
      [
        { host: '2001:db8::1', port: 2223 },
        { host: 'r2', port: 2224 },
      ],
    );
    assert.deepEqual(loadConfig({ VOXGATE_GATEWAY_MEDIA_RELAYS: 'off' }).calls.relays, []);
    assert.deepEqual(loadConfig({ VOXGATE_MEDIA_NG: '10.0.0.5:2000' }).calls.relays, [
      { host: '10.0.0.5', port: 2000 },
    ]);
    assert.match(
      configError(() => loadConfig({ VOXGATE_MEDIA_NG: '[::1]:99999' })).message,
      /^VOXGATE_MEDIA_NG="\[::1\]:99999" is invalid: expected host:port/,
    );
  });

  test('the two media timeouts have distinct names; the former names still work, with one warning each', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.media.idleSessionMs, 60_000);
    assert.equal(defaults.calls.noRtpHangupMs, 60_000);
    const renamed = loadConfig({
      VOXGATE_RELAY_IDLE_SESSION_SECONDS: '90',
      VOXGATE_CALL_NO_RTP_HANGUP_SECONDS: '20',
    });
    assert.equal(renamed.media.idleSessionMs, 90_000);
    assert.equal(renamed.calls.noRtpHangupMs, 20_000);
    const warnings: string[] = [];
    const old = loadConfig(
      { VOXGATE_MEDIA_TIMEOUT_SECONDS: '45', VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS: '15' },
      { onDeprecated: (message) => warnings.push(message) },
    );
    assert.equal(old.media.idleSessionMs, 45_000);
    assert.equal(old.calls.noRtpHangupMs, 15_000);
    assert.equal(warnings.length, 2);
    assert.ok(
      warnings.some((w) =>
        /^VOXGATE_MEDIA_TIMEOUT_SECONDS is deprecated: use VOXGATE_RELAY_IDLE_SESSION_SECONDS/.test(w),
      ),
    );
    assert.ok(
      warnings.some((w) =>
        /^VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS is deprecated: use VOXGATE_CALL_NO_RTP_HANGUP_SECONDS/.test(w),
      ),
    );
    assert.equal(deprecatedNames.get('VOXGATE_MEDIA_TIMEOUT_SECONDS'), 'VOXGATE_RELAY_IDLE_SESSION_SECONDS');
    assert.match(
      configError(() => loadConfig({ VOXGATE_MEDIA_TIMEOUT_SECONDS: 'soon' })).message,
      /^VOXGATE_MEDIA_TIMEOUT_SECONDS="soon" is invalid/,
    );
    assert.match(
      formatEffectiveConfig({ VOXGATE_MEDIA_TIMEOUT_SECONDS: '45' }),
      /^VOXGATE_RELAY_IDLE_SESSION_SECONDS=45 {2}# set as VOXGATE_MEDIA_TIMEOUT_SECONDS \(deprecated\)/m,
    );
  });

  test('SIP and media advertise one address: by default 127.0.0.1, where both listen', () => {
    const config = loadConfig({});
    assert.equal(config.sip.host, '127.0.0.1');
    assert.equal(config.sip.advertisedAddress, undefined);
    assert.equal(config.media.advertisedAddress, undefined);
    assert.deepEqual(advertisedAddresses(config), { sip: '127.0.0.1', media: '127.0.0.1' });
    // A specific listen address is advertised as it is.
    assert.deepEqual(
      advertisedAddresses(loadConfig({ VOXGATE_SIP_HOST: '10.1.2.3', VOXGATE_MEDIA_NG: '10.1.2.3:22222' })),
      { sip: '10.1.2.3', media: '10.1.2.3' },
    );
    // Both on a wildcard: the one shared choice of the machine, for both.
    const wildcard = advertisedAddresses(
      loadConfig({ VOXGATE_SIP_HOST: '0.0.0.0', VOXGATE_MEDIA_NG: '0.0.0.0:22222' }),
    );
    assert.equal(wildcard.sip, defaultAdvertisedHost('0.0.0.0'));
    assert.equal(wildcard.media, wildcard.sip);
  });

  test('VOXGATE_ADVERTISED_ADDRESS sets both; the SIP and media names override it for one', () => {
    const both = loadConfig({ VOXGATE_SIP_HOST: '0.0.0.0', VOXGATE_ADVERTISED_ADDRESS: '192.0.2.10' });
    assert.deepEqual(advertisedAddresses(both), { sip: '192.0.2.10', media: '192.0.2.10' });
    const split = loadConfig({
      VOXGATE_ADVERTISED_ADDRESS: '192.0.2.10',
      VOXGATE_SIP_ADVERTISED_ADDRESS: 'sip.example.net',
      VOXGATE_MEDIA_ADVERTISED_ADDRESS: '198.51.100.7',
    });
    assert.deepEqual(advertisedAddresses(split), { sip: 'sip.example.net', media: '198.51.100.7' });
    assert.match(
      configError(() => loadConfig({ VOXGATE_ADVERTISED_ADDRESS: 'pbx.example.net' })).message,
      /^VOXGATE_ADVERTISED_ADDRESS="pbx.example.net" is invalid: expected an IPv4 or IPv6 address$/,
    );
  });

  test('VOXGATE_SIP_ADVERTISED_HOST is a deprecated alias of VOXGATE_SIP_ADVERTISED_ADDRESS, with one warning', async () => {
    assert.equal(deprecatedNames.get('VOXGATE_SIP_ADVERTISED_HOST'), 'VOXGATE_SIP_ADVERTISED_ADDRESS');
    const warnings: string[] = [];
    const old = loadConfig(
      { VOXGATE_SIP_ADVERTISED_HOST: '203.0.113.5' },
      { onDeprecated: (message) => warnings.push(message) },
    );
    assert.equal(old.sip.advertisedAddress, '203.0.113.5');
    assert.deepEqual(advertisedAddresses(old), { sip: '203.0.113.5', media: '127.0.0.1' });
    assert.deepEqual(warnings, [
      'VOXGATE_SIP_ADVERTISED_HOST is deprecated: use VOXGATE_SIP_ADVERTISED_ADDRESS (the same setting; VOXGATE_SIP_ADVERTISED_ADDRESS wins if both are set)',
    ]);
    const both = loadConfig({
      VOXGATE_SIP_ADVERTISED_HOST: '203.0.113.5',
      VOXGATE_SIP_ADVERTISED_ADDRESS: '203.0.113.6',
    });
    assert.equal(both.sip.advertisedAddress, '203.0.113.6');
    assert.match(
      formatEffectiveConfig({ VOXGATE_SIP_ADVERTISED_HOST: '203.0.113.5' }),
      /^VOXGATE_SIP_ADVERTISED_ADDRESS=203\.0\.113\.5 {2}# set as VOXGATE_SIP_ADVERTISED_HOST \(deprecated\)/m,
    );
    const err: string[] = [];
    const io = {
      env: { VOXGATE_SIP_ADVERTISED_HOST: '203.0.113.5' },
      out: () => undefined,
      err: (l: string) => err.push(l),
    };
    assert.deepEqual(await runCli(['config', 'print'], io), { exitCode: 0 });
    assert.deepEqual(err, [`voxgate: warning: ${warnings[0]}`]);
  });

  test('the peer secret defaults to the nonce secret and is masked', () => {
    const nonce = 'n'.repeat(32);
    const peer = 'p'.repeat(40);
    assert.equal(loadConfig({ VOXGATE_SIP_NONCE_SECRET: nonce }).sip.peerSecret, nonce);
    assert.equal(
      loadConfig({ VOXGATE_SIP_NONCE_SECRET: nonce, VOXGATE_SIP_PEER_SECRET: peer }).sip.peerSecret,
      peer,
    );
    assert.equal(loadConfig({}).sip.peerSecret, undefined);
    const text = formatEffectiveConfig({ VOXGATE_SIP_PEER_SECRET: peer });
    assert.match(text, /^VOXGATE_SIP_PEER_SECRET=\*\*\*\* {2}# set/m);
    assert.ok(!text.includes(peer));
    assert.match(
      configError(() => loadConfig({ VOXGATE_SIP_PEER_SECRET: 'short' })).message,
      /^VOXGATE_SIP_PEER_SECRET=\(secret, not shown\) is invalid: expected at least 32 characters$/,
    );
  });

  test('voxgate config print warns once about a former name; --help lists settings by module with type and default', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      env: { VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS: '15' },
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
    };
    assert.deepEqual(await runCli(['config', 'print'], io), { exitCode: 0 });
    assert.deepEqual(err, [
      'voxgate: warning: VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS is deprecated: use VOXGATE_CALL_NO_RTP_HANGUP_SECONDS (the same setting; VOXGATE_CALL_NO_RTP_HANGUP_SECONDS wins if both are set)',
    ]);
    assert.match(
      out.join('\n'),
      /^VOXGATE_CALL_NO_RTP_HANGUP_SECONDS=15 {2}# set as VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS/m,
    );
    out.length = 0;
    await runCli(['--help'], { ...io, env: {} });
    const help = out.join('\n');
    assert.match(help, /^ {2}media-relay:$/m);
    assert.match(help, /^ {4}VOXGATE_SIP_PORT +<port> SIP port, UDP and TCP \[default 5060\]$/m);
    assert.match(help, /^ {4}VOXGATE_SIP_PEER_SECRET +<text, secret> /m);
    assert.match(help, /formerly VOXGATE_MEDIA_TIMEOUT_SECONDS, still read/);
  });
});
