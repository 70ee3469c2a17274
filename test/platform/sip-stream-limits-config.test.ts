import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/platform/config/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a configuration error');
}

describe('settings of the SIP stream limits', () => {
  test('defaults: 120 s idle, 20 s per message, 4096 connections, 100 per source', () => {
    assert.deepEqual(loadConfig({}).sip.streams, {
      idleTimeoutMs: 120_000,
      messageTimeoutMs: 20_000,
      maxConnections: 4096,
      maxConnectionsPerSource: 100,
    });
  });

  test('set in the environment, in seconds and counts', () => {
    const config = loadConfig({
      VOXGATE_SIP_STREAM_IDLE_SECONDS: '300',
      VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS: '10',
      VOXGATE_SIP_STREAM_MAX_CONNECTIONS: '20000',
      VOXGATE_SIP_STREAM_MAX_PER_SOURCE: '500',
    });
    assert.deepEqual(config.sip.streams, {
      idleTimeoutMs: 300_000,
      messageTimeoutMs: 10_000,
      maxConnections: 20_000,
      maxConnectionsPerSource: 500,
    });
  });

  test('one-line errors: out of range, and limits that contradict each other', () => {
    assert.equal(
      configError(() => loadConfig({ VOXGATE_SIP_STREAM_IDLE_SECONDS: '10' })).message,
      'VOXGATE_SIP_STREAM_IDLE_SECONDS="10" is invalid: expected an integer number of seconds from 32 to 86400',
    );
    assert.equal(
      configError(() =>
        loadConfig({ VOXGATE_SIP_STREAM_MAX_CONNECTIONS: '50', VOXGATE_SIP_STREAM_MAX_PER_SOURCE: '100' }),
      ).message,
      'VOXGATE_SIP_STREAM_MAX_PER_SOURCE=100 is invalid: expected at most VOXGATE_SIP_STREAM_MAX_CONNECTIONS=50',
    );
    assert.equal(
      configError(() =>
        loadConfig({
          VOXGATE_SIP_STREAM_IDLE_SECONDS: '40',
          VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS: '60',
        }),
      ).message,
      'VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS=60 is invalid: expected at most VOXGATE_SIP_STREAM_IDLE_SECONDS=40',
    );
  });
});
