/**
 * Overload seen at the SIP port's UDP socket: the kernel's own account of it, read from /proc/net/udp and
 * /proc/net/udp6 (Linux) once a second — the bytes queued for the process to read (`rx_queue`, the datagrams'
 * memory as the kernel counts it against SO_RCVBUF) and the datagrams it dropped because the queue was full
 * (`drops`). A process whose CPU cannot keep up with what arrives (the heap fine, so `heap-pressure.ts` says
 * nothing) shows here first: the queue fills, then the kernel drops requests nobody answers, and each comes
 * back as a retransmission. Refusing new requests with 503 and Retry-After instead (RFC 3261 §21.5.4) tells an
 * SBC or dispatcher in front to try another replica at once and phones to come back later.
 */
import { readFileSync } from 'node:fs';

/** What the kernel holds and has dropped at one UDP port (summed over the sockets bound to it). */
export interface UdpQueueReading {
  queuedBytes: number;
  drops: number;
}

export const PROC_NET_UDP = ['/proc/net/udp', '/proc/net/udp6'];

/**
 * The queue of the sockets bound to local `port`, from the kernel's tables (`files`, by default both families);
 * undefined where they cannot be read (not Linux) or no socket has that port.
 */
export function readUdpQueue(
  port: number,
  files: readonly string[] = PROC_NET_UDP,
): UdpQueueReading | undefined {
  let found = false;
  const reading = { queuedBytes: 0, drops: 0 };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    // "sl local_address rem_address st tx_queue:rx_queue tr tm->when retrnsmt uid timeout inode ref pointer
    // drops", addresses as hex IP:port, the queues in hex, drops in decimal.
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 13) continue;
      const local = fields[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue;
      const queues = fields[4]!;
      found = true;
      reading.queuedBytes += parseInt(queues.slice(queues.indexOf(':') + 1), 16) || 0;
      reading.drops += Number(fields[fields.length - 1]) || 0;
    }
  }
  return found ? reading : undefined;
}

export interface UdpBacklog {
  /** True while new requests outside a dialog should be refused. */
  readonly high: boolean;
  /** The last reading, and the datagrams dropped since the one before it. */
  readonly last: (UdpQueueReading & { dropped: number }) | undefined;
  close(): void;
}

/**
 * Reads the queue of `port` every `intervalMs` (default 1,000): high once `highReadings` (default 2) readings in a
 * row found the queue holding `highRatio` of the socket's buffer or a datagram dropped since the reading before —
 * a pause that drops a burst once (a collection, a stalled disk) costs retransmissions, not seconds of refusals;
 * low again after `clearReadings` (default 2) readings in a row under half that share without a drop.
 */
export function watchUdpBacklog(options: {
  port: number;
  /** SO_RCVBUF as the kernel reports it (the bound `rx_queue` is held to). */
  bufferBytes: () => number;
  highRatio: number;
  intervalMs?: number;
  highReadings?: number;
  clearReadings?: number;
  read?: (port: number) => UdpQueueReading | undefined;
  onChange?: (high: boolean, reading: UdpQueueReading & { dropped: number }) => void;
}): UdpBacklog {
  const read = options.read ?? readUdpQueue;
  const highReadings = options.highReadings ?? 2;
  const clearReadings = options.clearReadings ?? 2;
  let state = false;
  let calm = 0;
  let strained = 0;
  let previous = read(options.port);
  let last: (UdpQueueReading & { dropped: number }) | undefined;
  const timer = setInterval(() => {
    const reading = read(options.port);
    if (!reading) return;
    // A socket closed and bound again starts its count at 0: no drop is counted from the change.
    const dropped = previous && reading.drops >= previous.drops ? reading.drops - previous.drops : 0;
    previous = reading;
    last = { ...reading, dropped };
    const share = reading.queuedBytes / Math.max(1, options.bufferBytes());
    if (dropped > 0 || share >= options.highRatio) {
      calm = 0;
      if (state || ++strained < highReadings) return;
      strained = 0;
      state = true;
      options.onChange?.(true, last);
      return;
    }
    strained = 0;
    if (!state) return;
    if (share >= options.highRatio / 2) {
      calm = 0;
      return;
    }
    if (++calm < clearReadings) return;
    state = false;
    calm = 0;
    options.onChange?.(false, last);
  }, options.intervalMs ?? 1000);
  timer.unref();
  return {
    get high() {
      return state;
    },
    get last() {
      return last;
    },
    close() {
      clearInterval(timer);
    },
  };
}
