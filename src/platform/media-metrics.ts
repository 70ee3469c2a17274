import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Histogram, type Registry } from '../observability/index.js';

/** ng commands of RTPengine's protocol; anything else shares one label value. */
const NG_COMMANDS = new Set([
  'ping',
  'offer',
  'answer',
  'delete',
  'query',
  'list',
  'statistics',
  'start recording',
  'stop recording',
  'block DTMF',
  'unblock DTMF',
  'block media',
  'unblock media',
  'play media',
  'stop media',
  'play DTMF',
]);

/** Media relay control metrics from the relay's diagnostics channel; returns the unsubscribe function. */
export function collectMediaMetrics(registry: Registry): () => void {
  const commands = new Counter({
    name: 'voxgate_media_ng_commands_total',
    help: 'ng control commands answered, by command and result (ok, pong, error); retransmissions answered from cache counted as cached="true".',
    labelNames: ['command', 'result', 'cached'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'voxgate_media_ng_command_duration_seconds',
    help: 'Time to execute an ng command (cache hits excluded), by command.',
    labelNames: ['command'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  const onCommand = (m: unknown) => {
    const e = m as { command?: string; result: string; cached: boolean; durationMs: number };
    const command = e.command !== undefined && NG_COMMANDS.has(e.command) ? e.command : 'other';
    commands.inc({ command, result: e.result, cached: String(e.cached) });
    if (!e.cached) duration.observe({ command }, e.durationMs / 1000);
  };
  subscribe('voxgate:media:ng-command', onCommand);
  return () => unsubscribe('voxgate:media:ng-command', onCommand);
}
