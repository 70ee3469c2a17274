// ESLint rule: SIP grammar is parsed in src/sip only (docs/architecture.md, "The SIP stack"). The gateway reads
// URIs, Via, name-addr and header parameters through the stack's parsers and views (parseSipUri, uriUser,
// fromOf, topViaOf, withoutTag, formatHostPort, topLevelComma …), never with a regular expression of its own:
// a second, looser grammar disagrees with the parser on the messages that matter (an IPv6 host, a URI
// without a user part, a quoted comma).
//
// Heuristic: a regular expression — a /literal/ or `new RegExp('…')` / `RegExp('…')` with a string literal —
// is SIP grammar when its source, compared without case, contains one of MARKERS: the `sip`/`sips` schemes or
// the `SIP/2.0` protocol (`sip`), a `tel:` URI, a header or URI parameter of RFC 3261/3581 (`tag=`, `branch=`,
// `rport`, `received=`, `maddr=`, `transport=`, the branch magic cookie, or the
// character classes that take a name-addr or userinfo apart (`[^>`, `[^<`, `[^@`). Patterns built from
// template literals are not looked at.
export const MARKERS = [
  'sip',
  'tel:',
  'tag=',
  'branch=',
  'rport',
  'received=',
  'maddr=',
  'transport=',
  'z9hg4bk',
  '[^>',
  '[^<',
  '[^@',
];

/** The marker a pattern contains, or undefined. */
export function sipGrammarMarker(pattern) {
  const lower = pattern.toLowerCase();
  return MARKERS.find((m) => lower.includes(m));
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'no regular expressions over SIP grammar outside src/sip' },
    schema: [],
    messages: {
      sipGrammar:
        "regular expression over SIP grammar ('{{marker}}'): use the parsers and helpers of src/sip (parseSipUri, uriUser, fromOf, topViaOf, withoutTag, formatHostPort, topLevelComma …)",
    },
  },
  create(context) {
    function check(node, pattern) {
      const marker = typeof pattern === 'string' ? sipGrammarMarker(pattern) : undefined;
      if (marker) context.report({ node, messageId: 'sipGrammar', data: { marker } });
    }
    function checkConstructor(node) {
      const [first] = node.arguments;
      if (node.callee.type === 'Identifier' && node.callee.name === 'RegExp' && first?.type === 'Literal')
        check(node, first.value);
    }
    return {
      Literal: (node) => node.regex && check(node, node.regex.pattern),
      NewExpression: checkConstructor,
      CallExpression: checkConstructor,
    };
  },
};
