import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asE164,
  bestFinal,
  dispositionOf,
  failsOver,
  normalizeNumber,
  selectRoute,
  type GatewayRoute,
} from '../../src/gateway/index.js';

const trunk = { id: 't1', tenantId: 'x', host: '192.0.2.1', port: 5060, transport: 'udp' as const };

describe('call routing rules', () => {
  test('the first route whose pattern matches the whole number wins, with its rewriting', () => {
    const routes: GatewayRoute[] = [
      { pattern: '00[1-9]\\d+', stripDigits: 2, prefix: '+', trunks: [trunk] },
      { pattern: '0[1-9]\\d{8}', stripDigits: 1, prefix: '+33', trunks: [trunk] },
      { pattern: '.*', stripDigits: 0, prefix: '', trunks: [] },
    ];
    assert.equal(selectRoute(routes, '0044207946000')?.dialled, '+44207946000');
    assert.equal(selectRoute(routes, '0612345678')?.dialled, '+33612345678');
    assert.equal(
      selectRoute(routes, '12')?.route,
      routes[2],
      'a partial match is no match for the earlier rules',
    );
    assert.equal(selectRoute(routes.slice(0, 2), '12'), undefined);
  });

  test('a pattern that is not a valid regular expression never matches', () => {
    assert.equal(selectRoute([{ pattern: '(', stripDigits: 0, prefix: '', trunks: [] }], '('), undefined);
  });

  test('RFC 3966 visual separators are removed; E.164 gets its +', () => {
    assert.equal(normalizeNumber('+1-(202)-555.0100'), '+12025550100');
    assert.equal(asE164('442079460000'), '+442079460000');
    assert.equal(asE164('+442079460000'), '+442079460000');
  });

  test('failover on a timeout, 408 and 5xx only', () => {
    assert.deepEqual([408, 480, 486, 500, 503, 504, 603].map(failsOver), [
      true,
      false,
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  test('§16.7: a 6xx wins, 4xx beats 5xx, 503 becomes 500, challenges become 480', () => {
    const f = (status: number) => ({ status, reason: String(status), headers: {} });
    assert.equal(bestFinal([f(486), f(603), f(500)]).status, 603);
    assert.equal(bestFinal([f(500), f(486)]).status, 486);
    assert.equal(bestFinal([f(503)]).status, 500);
    assert.equal(bestFinal([f(407)]).status, 480);
    assert.equal(bestFinal([f(408), f(404)]).status, 404, 'a timeout is the least informative 4xx');
    assert.deepEqual([486, 600, 480, 408, 487, 503, 404].map(dispositionOf), [
      'busy',
      'busy',
      'no-answer',
      'no-answer',
      'cancelled',
      'failed',
      'rejected',
    ]);
  });
});
