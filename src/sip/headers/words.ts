/** The words of a start line and CSeq: the methods and the version (byte-scan.ts's wordAt shares these). */
export const START_LINE_WORDS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'UPDATE',
  'INFO',
  'REFER',
  'NOTIFY',
  'SUBSCRIBE',
  'MESSAGE',
  'PUBLISH',
  'SIP/2.0',
] as const;

/**
 * The words that most messages carry in their start line, CSeq, Via and parameters, shared: a word read from a
 * message is this one string instead of a new copy per message (less to allocate and to collect).
 */
const WORDS = [
  ...START_LINE_WORDS,
  'SIP',
  '2.0',
  'UDP',
  'TCP',
  'TLS',
  'SCTP',
  'WS',
  'WSS',
  'branch',
  'rport',
  'received',
  'tag',
  'transport',
  'lr',
  'maddr',
  'ttl',
  'expires',
  'q',
  'user',
];

const SLOTS = 256;
const slots: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

function slotOf(length: number, first: number, last: number): number {
  return (length * 37 + first * 7 + last) & (SLOTS - 1);
}

for (const word of WORDS) {
  let slot = slotOf(word.length, word.charCodeAt(0), word.charCodeAt(word.length - 1));
  while (slots[slot] !== undefined) slot = (slot + 1) & (SLOTS - 1);
  slots[slot] = word;
}

/** `text.slice(start, end)` (not empty): the shared string when it is one of WORDS, as written (case kept). */
export function sliceWord(text: string, start: number, end: number): string {
  const length = end - start;
  for (
    let slot = slotOf(length, text.charCodeAt(start), text.charCodeAt(end - 1));
    slots[slot] !== undefined;
    slot = (slot + 1) & (SLOTS - 1)
  ) {
    const word = slots[slot]!;
    if (word.length === length && sameText(text, start, word)) return word;
  }
  return text.slice(start, end);
}

/** Whether `text` holds `word` at `start` (compared by char code: cheaper than startsWith for these short words). */
function sameText(text: string, start: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (text.charCodeAt(start + i) !== word.charCodeAt(i)) return false;
  return true;
}
