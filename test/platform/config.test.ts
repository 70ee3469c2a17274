import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  formatEffectiveConfig,
  loadConfig,
  parseEnvText,
} from '../../src/platform/config/index.js';

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

  test('digest algorithms: an ordered list of SHA-256 and MD5', () => {
    assert.deepEqual(loadConfig({}).sip.digestAlgorithms, ['SHA-256', 'MD5']);
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
});
