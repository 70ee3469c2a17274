import {
  createMediaRelay,
  createNgControlServer,
  relaySockets,
  type ObjectStore,
} from '../../src/media/index.js';
import { findRtpengine, startRtpengine } from './rtpengine.js';

export type RelayKind = 'voxgate' | 'rtpengine';

export interface RunningRelay {
  readonly kind: RelayKind;
  readonly ngPort: number;
  stop(): Promise<void>;
}

/** Whether a relay kind can run here; under CI a missing RTPengine is an error, not a skip. */
export function relaySkip(kind: RelayKind): string | false {
  if (kind === 'voxgate' || findRtpengine() || process.env.CI) return false;
  return 'rtpengine not installed';
}

/**
 * A media relay on loopback speaking ng: voxgate's own (in this process, on the sockets the platform gives it by
 * default: the native ones, lending packets, where the addon is built) or a real RTPengine in userspace mode.
 * The gateway scenarios run against both, unchanged.
 */
export async function startRelay(
  kind: RelayKind,
  timeoutMs = 0,
  /** voxgate's relay only: record calls into `store`, spooling under `spoolDir`. */
  recording?: { store: ObjectStore; spoolDir: string },
): Promise<RunningRelay> {
  if (kind === 'rtpengine') {
    const binary = findRtpengine();
    if (!binary) throw new Error('rtpengine not found on PATH: apt-get install -y rtpengine-daemon');
    const engine = await startRtpengine(binary);
    return { kind, ngPort: engine.ngPort, stop: () => engine.stop() };
  }
  const portMin = 33000 + 2 * Math.floor(Math.random() * 3000);
  const relay = createMediaRelay({
    bindHost: '127.0.0.1',
    advertised: '127.0.0.1',
    portMin,
    portMax: portMin + 199,
    timeoutMs,
    sockets: relaySockets('auto').sockets,
    ...(recording ? { recording } : {}),
  });
  const server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
  return {
    kind,
    ngPort: server.address().port,
    async stop() {
      await server.close();
      await relay.close();
    },
  };
}
