import { AggregatorRegistry, type Registry } from 'prom-client';
import { ownCallIds, openWorkerDispatch, type WorkerDispatch } from '../gateway/index.js';
import { metricsIn } from '../observability/index.js';
import type { DispatchPeers, DispatchReady } from './sip-workers.js';

export interface SipWorkerLink {
  readonly dispatch: WorkerDispatch;
  /** Tells the primary this worker's SIP listener is open, with the port it takes handed datagrams on. */
  announce(): void;
  close(): Promise<void>;
}

/**
 * One SIP worker's side of the cluster: its Call-IDs (those it makes hash to it), the loopback socket other
 * workers hand its datagrams to, the other workers' ports as the primary tells them, and a counter of what
 * the dispatch did, per worker.
 */
export async function linkSipWorker(
  place: { worker: number; workers: number },
  metrics: Registry,
): Promise<SipWorkerLink> {
  ownCallIds(place);
  const dispatch = await openWorkerDispatch(place);
  const onMessage = (message: Partial<DispatchPeers>) => {
    if (message?.voxgate !== 'sip-peers' || !Array.isArray(message.ports)) return;
    dispatch.setPeers(message.ports.map((p, i) => (i === place.worker || p === null ? undefined : p)));
  };
  process.on('message', onMessage);
  // The primary's /metrics merges every worker's registry (sip-workers-http.ts): prom-client answers its
  // requests from this registry once an AggregatorRegistry exists in the process (that adds the listener).
  AggregatorRegistry.setRegistries([metrics]);
  new AggregatorRegistry();
  const worker = String(place.worker);
  metricsIn(metrics).gauge(
    'voxgate_sip_worker_datagrams',
    'Datagrams this SIP worker read on the shared UDP port, by outcome (own: read here; passed: handed to the worker owning its Call-ID; dropped: that worker was not up) and those handed to it (received), since it started.',
    {
      labelNames: ['worker', 'outcome'],
      collect: (gauge) => {
        for (const [outcome, value] of Object.entries(dispatch.counts)) gauge.set({ worker, outcome }, value);
      },
    },
  );
  metricsIn(metrics).gauge(
    'voxgate_sip_worker_stream_messages',
    "SIP messages between this SIP worker and the one holding the TCP, TLS and WebSocket flows, by outcome (passed: read on the holder's flows, handed to the worker owning its Call-ID; received: handed here; relayed: sent on the holder's flows for this worker; failed: of those, failed there or not handed), since it started.",
    {
      labelNames: ['worker', 'outcome'],
      collect: (gauge) => {
        for (const [outcome, value] of Object.entries(dispatch.streamCounts))
          gauge.set({ worker, outcome }, value);
      },
    },
  );
  return {
    dispatch,
    announce() {
      const message: DispatchReady = { voxgate: 'sip-dispatch', worker: place.worker, port: dispatch.port };
      process.send?.(message);
    },
    async close() {
      process.off('message', onMessage);
      await dispatch.close();
    },
  };
}
