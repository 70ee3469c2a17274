/**
 * The call's state machine: its five states, the one table of allowed transitions, and what each state owns
 * (timers, the 2xx retransmission …), stopped when the call leaves the states that own it. `transition()` is
 * the only way the state changes.
 */

export type CallState = 'routing' | 'early' | 'answered' | 'ending' | 'ended';

/**
 * routing: INVITEs out, nothing relayed to the caller yet; early: a provisional response relayed; answered: a
 * 2xx relayed; ending: the call is over for SIP, its record waits for the relay's stats; ended: recorded and
 * released. `ended` is also reached at once from anywhere when the gateway shuts down (`abandon`).
 */
const TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  routing: ['early', 'answered', 'ending', 'ended'],
  early: ['answered', 'ending', 'ended'],
  answered: ['ending', 'ended'],
  ending: ['ended'],
  ended: [],
};

/** The states in which a call is being set up: before any final response to the caller. */
export const SETTING_UP: readonly CallState[] = ['routing', 'early'];
export const ANSWERED: readonly CallState[] = ['answered'];

/** Something a state owns: stopped when the call leaves the states it belongs to. */
export interface Owned {
  stop(): void;
}

interface Holding {
  readonly owners: readonly CallState[];
  readonly item: Owned;
}

export class CallStateMachine {
  private current: CallState = 'routing';
  private readonly held = new Map<string, Holding>();

  get state(): CallState {
    return this.current;
  }

  /** Before any final response to the caller (routing or early). */
  get settingUp(): boolean {
    return SETTING_UP.includes(this.current);
  }

  /** Over for SIP: ending or ended. */
  get over(): boolean {
    return this.current === 'ending' || this.current === 'ended';
  }

  /** Moves to `to` when the table allows it (false otherwise), stopping what the new state does not own. */
  transition(to: CallState): boolean {
    if (!TRANSITIONS[this.current].includes(to)) return false;
    this.current = to;
    for (const [name, holding] of this.held) {
      if (holding.owners.includes(to)) continue;
      this.held.delete(name);
      holding.item.stop();
    }
    return true;
  }

  /** Gives `item` to the states `owners` under `name` (replacing, and stopping, one of the same name). */
  own(name: string, owners: readonly CallState[], item: Owned): void {
    this.stop(name);
    if (!owners.includes(this.current)) {
      item.stop();
      return;
    }
    this.held.set(name, { owners, item });
  }

  /** A timer owned by `owners`: `fn` runs after `ms` unless the call left those states first. */
  after(name: string, owners: readonly CallState[], ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      if (this.held.get(name)?.item === owned) this.held.delete(name);
      fn();
    }, ms);
    timer.unref();
    const owned: Owned = { stop: () => clearTimeout(timer) };
    this.own(name, owners, owned);
  }

  /** Stops what `name` is, before its states end. */
  stop(name: string): void {
    const holding = this.held.get(name);
    if (!holding) return;
    this.held.delete(name);
    holding.item.stop();
  }

  /** The names of what the current state holds (for tests). */
  holding(): string[] {
    return [...this.held.keys()];
  }
}
