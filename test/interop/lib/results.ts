import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult, Transport } from './types.js';

/** Where each client's results go; scripts/interop-report.mjs turns them into docs/interop.md. */
export const RESULTS_DIR =
  process.env.VOXGATE_INTEROP_RESULTS ?? fileURLToPath(new URL('../../../interop-results', import.meta.url));

export interface ClientReport {
  readonly name: string;
  readonly version: string;
  readonly stack: string;
  readonly transports: readonly Transport[];
  /** The client's working configuration per transport, as users would write it. */
  readonly configSamples: Readonly<Record<string, string>>;
  readonly quirks: readonly string[];
  /** What ran as each server, e.g. { reference: 'Kamailio 5.6.3 + RTPengine …', voxgate: 'voxgate 0.1.0' }. */
  readonly servers?: Readonly<Record<string, string>>;
  /** What the suite saw on the wire with this client, per server (codecs offered …). */
  readonly observations?: readonly string[];
}

/** Writes one client's report and check results as interop-results/<client>.json. */
export function recordResults(client: ClientReport, results: readonly CheckResult[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(
    RESULTS_DIR,
    `${client.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ ...client, ranAt: new Date().toISOString(), results }, null, 2)}\n`,
  );
}
