// ESLint rule: imports between the planes of src/ go downward only (docs/architecture.md, "Planes (source layout)").
// Each plane lists the planes it may import; anything else is reported with both planes named.
import { dirname, relative, resolve, sep } from 'node:path';

export const allowedImports = {
  sip: [],
  observability: [],
  media: ['sip', 'observability'],
  store: ['observability'],
  gateway: ['sip', 'media', 'store', 'observability'],
  api: ['store', 'observability'],
  jobs: ['store', 'observability'],
  platform: ['sip', 'media', 'store', 'gateway', 'api', 'jobs', 'observability'],
  bin: ['platform'],
};

function planeOf(root, file) {
  const rel = relative(resolve(root, 'src'), file);
  if (rel.startsWith('..')) return undefined;
  const first = rel.split(sep)[0];
  return first && first in allowedImports ? first : undefined;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'planes of src/ import downward only' },
    schema: [],
    messages: {
      upward:
        "src/{{from}} may not import from src/{{to}} (allowed: {{allowed}}); see 'Planes (source layout)' in docs/architecture.md",
    },
  },
  create(context) {
    const file = context.filename;
    const root = context.cwd;
    const from = planeOf(root, file);
    if (!from) return {};
    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = planeOf(root, resolve(dirname(file), source));
      if (!to || to === from) return;
      const allowed = allowedImports[from];
      if (!allowed.includes(to)) {
        context.report({
          node,
          messageId: 'upward',
          data: { from, to, allowed: allowed.length ? allowed.join(', ') : 'nothing' },
        });
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
