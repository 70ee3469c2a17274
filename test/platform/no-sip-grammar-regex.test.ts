import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

// The files linted here exist only as text: the type-aware rules, which need them in the TypeScript project,
// are turned off (as in layer-imports.test.ts); this rule needs no types.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});

async function grammarErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'voxgate/no-sip-grammar-regex')
    .map((m) => m.message);
}

describe('lint: no regular expressions over SIP grammar in src/gateway', () => {
  test('URI, Via, tag and name-addr patterns are reported, each with its marker', async () => {
    const code = [
      'export const user = (uri: string) => /^sips?:([^@;?]+)/i.exec(uri)?.[1];',
      'export const via = (v: string) => /^SIP\\s*\\/\\s*2\\.0/.test(v);',
      "export const untag = (v: string) => v.replace(/;\\s*tag=[^;]*/i, '');",
      'export const inner = (v: string) => /<([^>]*)>/.exec(v)?.[1];',
      "export const branch = new RegExp('branch=z9hG4bK');",
      "export const port = RegExp(';rport=(\\\\d+)');",
      '',
    ].join('\n');
    const errors = await grammarErrors('src/gateway/x.ts', code);
    assert.equal(errors.length, 6);
    assert.match(errors[0]!, /\('sip'\)/);
    assert.match(errors[2]!, /\('tag='\)/);
    assert.match(errors[3]!, /\('\[\^>'\)/);
    assert.match(errors[4]!, /\('branch='\)/);
    assert.match(errors[5]!, /\('rport'\)/);
    assert.match(errors[0]!, /use the parsers and helpers of src\/sip/);
  });

  test('patterns that are not SIP grammar pass: digits, number separators, auth params', async () => {
    const code = [
      'export const digits = (s: string) => /^\\+?\\d+$/.test(s);',
      "export const visual = (s: string) => s.replace(/[-.()\\s]/g, '');",
      'export const stale = (s: string) => /stale\\s*=\\s*"?true/i.test(s);',
      'export const route = (p: string) => new RegExp(`^(?:${p})$`);',
      '',
    ].join('\n');
    assert.deepEqual(await grammarErrors('src/gateway/x.ts', code), []);
  });

  test('src/sip owns the grammar: the same pattern there is not reported', async () => {
    const code = 'export const user = (uri: string) => /^sips?:([^@;?]+)/i.exec(uri)?.[1];\n';
    assert.deepEqual(await grammarErrors('src/sip/uri/x.ts', code), []);
    assert.equal((await grammarErrors('src/gateway/call/x.ts', code)).length, 1);
  });
});
