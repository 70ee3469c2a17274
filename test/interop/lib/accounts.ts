import type { Account } from './types.js';

/**
 * The suite's SIP domain and accounts, the same on every server. Each role has its own user so that a client
 * under test and the far end never share a registration: the client under test registers as `alice` (or the
 * name its test picks), the far end as `bob`; `mallory` is the account svcrack attacks.
 */
export const DOMAIN = 'interop.test';

export const ACCOUNTS: Readonly<Record<string, Account>> = {
  alice: { username: 'alice', password: 'alice-Secret-1' },
  bob: { username: 'bob', password: 'bob-Secret-2' },
  carol: { username: 'carol', password: 'carol-Secret-3' },
  dave: { username: 'dave', password: 'dave-Secret-4' },
  mallory: { username: 'mallory', password: 'sunshine1' },
};

export function account(name: string): Account {
  const found = ACCOUNTS[name];
  if (!found) throw new Error(`interop: no account named ${name}`);
  return found;
}
