/**
 * A copy of `value` that holds nothing else alive: a string cut from a longer one (a Call-ID or an AOR from a SIP
 * message's header text) is a view of it in V8, and kept it would keep that text too. Joined to one character
 * and cut again, it is flattened into a new string of its own characters (V8 slices none under 13).
 */
export function detachedString(value: string): string {
  return value.length < 13 ? value : ` ${value}`.slice(1);
}
