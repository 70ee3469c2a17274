import type { TrunkStatusStore } from '../store/shared-state/index.js';

export interface TrunkStatusFollower {
  /** False while the checking worker's last report says the trunk's OPTIONS went unanswered: routes skip it. */
  isUp(trunkId: string): boolean;
  /**
   * Reads the reports now (the timer does it every interval, the gateway once its listeners are open); a failed
   * read keeps the view as it was.
   */
  refresh(): Promise<void>;
  readonly down: ReadonlySet<string>;
  stop(): void;
}

/**
 * The trunks' health as another worker of the same gateway checks it, for a SIP worker that sends no OPTIONS
 * of its own (VOXGATE_SIP_WORKERS: the first worker checks and registers the trunks, so that a carrier sees one
 * check per interval from a gateway, not one per worker). The view is read from shared state, where the
 * checking worker already reports every check under the gateway's address for the API (`trunkStatus`, with
 * its TTL), on the same interval as the checks. Shared state rather than the workers' link: the reports are
 * written anyway, outlive a restart of the checking worker (the primary relays nothing, and nothing is lost
 * while that worker is away), and the API and every worker then see the same thing.
 *
 * What the reports mean follows a single process's monitor: a trunk is out of routing only while the last
 * report says its check went unanswered. A trunk without a report — not checked yet, or its report lapsed
 * because the checking worker stopped reporting — is unknown, and routed to, as a monitor that just started
 * routes to every trunk until a check fails. A read that fails (shared state unreachable) changes nothing: the
 * last view stays, rather than every trunk coming back at once or going down.
 */
export function createTrunkStatusFollower(deps: {
  trunks: () => Promise<readonly { readonly id: string }[]>;
  trunkStatus: Pick<TrunkStatusStore, 'list'>;
  /** The address the checking worker reports under (the gateway's advertised SIP address, shared by workers). */
  gateway: () => string;
  intervalMs: number;
  onChange?: (trunkId: string, up: boolean) => void;
}): TrunkStatusFollower {
  const down = new Set<string>();
  const refresh = async () => {
    const trunks = await deps.trunks();
    const reports = await deps.trunkStatus.list(trunks.map((t) => t.id));
    const gateway = deps.gateway();
    const known = new Set(trunks.map((t) => t.id));
    for (const id of down) if (!known.has(id)) down.delete(id); // deleted or disabled since
    for (const { id } of trunks) {
      const own = reports.get(id)?.find((r) => r.gateway === gateway);
      const up = own?.reachable !== false;
      const was = !down.has(id);
      if (up) down.delete(id);
      else down.add(id);
      if (was !== up) deps.onChange?.(id, up);
    }
  };
  const timer = setInterval(() => void refresh().catch(() => undefined), deps.intervalMs);
  timer.unref();
  return {
    isUp: (id) => !down.has(id),
    refresh,
    down,
    stop: () => clearInterval(timer),
  };
}
