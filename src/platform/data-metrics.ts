import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { cdrWriteChannel, jobRunChannel, type CdrWriteEvent, type JobRunEvent } from '../jobs/index.js';
import { Counter, Gauge, Histogram, type Registry } from '../observability/index.js';
import { storeQueryChannel, type Database, type StoreQueryEvent } from '../store/index.js';

/**
 * Store and job metrics from the `voxgate:store:query`, `voxgate:jobs:run` and `voxgate:jobs:cdr-write`
 * channels, and the PostgreSQL pool's occupancy read at scrape time. Returns the function that unsubscribes.
 */
export function collectDataMetrics(registry: Registry, db: Database | undefined): () => void {
  const queries = new Histogram({
    name: 'voxgate_store_query_duration_seconds',
    help: 'Store queries by outcome (ok, error), from sending to the result.',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'voxgate_store_query_errors_total',
    help: 'Store queries that failed (connection lost, constraint violated, timeout …).',
    registers: [registry],
  });
  const pool = db?.pool?.bind(db);
  new Gauge({
    name: 'voxgate_store_pool_connections',
    help: 'PostgreSQL pool connections by state (idle, busy), and requests waiting for one (waiting); no series on PGlite.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      if (!pool) return;
      const p = pool();
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'busy' }, p.total - p.idle);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  const runs = new Counter({
    name: 'voxgate_job_runs_total',
    help: 'Worker job runs, by job and outcome (ok, error).',
    labelNames: ['job', 'outcome'],
    registers: [registry],
  });
  const runSeconds = new Histogram({
    name: 'voxgate_job_duration_seconds',
    help: 'Worker job run duration, by job.',
    labelNames: ['job'],
    buckets: [0.005, 0.025, 0.1, 0.5, 2, 10, 60, 300],
    registers: [registry],
  });
  const cdrs = new Counter({
    name: 'voxgate_cdrs_written_total',
    help: 'CDRs written from call events (a redelivered event writes nothing and is not counted).',
    registers: [registry],
  });
  const onQuery = (m: unknown) => {
    const e = m as StoreQueryEvent;
    queries.observe({ outcome: e.ok ? 'ok' : 'error' }, e.durationMs / 1000);
    if (!e.ok) errors.inc();
  };
  const onJob = (m: unknown) => {
    const e = m as JobRunEvent;
    runs.inc({ job: e.job, outcome: e.ok ? 'ok' : 'error' });
    runSeconds.observe({ job: e.job }, e.durationMs / 1000);
  };
  const onCdr = (m: unknown) => {
    const e = m as CdrWriteEvent;
    if (e.written) cdrs.inc();
  };
  const channels: [string, (m: unknown) => void][] = [
    [storeQueryChannel.name as string, onQuery],
    [jobRunChannel.name as string, onJob],
    [cdrWriteChannel.name as string, onCdr],
  ];
  for (const [name, fn] of channels) subscribe(name, fn);
  return () => {
    for (const [name, fn] of channels) unsubscribe(name, fn);
  };
}
