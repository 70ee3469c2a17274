import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

// The files linted here exist only as text: the type-aware rules, which need them in the TypeScript project,
// are turned off; the layer rule needs no types.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});

async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'voxgate/layer-imports').map((m) => m.message);
}

describe('lint: planes import downward only', () => {
  test('src/sip may not import any other plane', async () => {
    const errors = await layerErrors(
      'src/sip/message/x.ts',
      "import { openDatabase } from '../../store/index.js';\nvoid openDatabase;\n",
    );
    assert.deepEqual(errors, [
      "src/sip may not import from src/store (allowed: nothing); see 'Planes (source layout)' in docs/architecture.md",
    ]);
  });

  test('src/media may import sip but not gateway; re-exports count too', async () => {
    assert.deepEqual(
      await layerErrors('src/media/x.ts', "export { parseMessage } from '../sip/index.js';\n"),
      [],
    );
    const errors = await layerErrors('src/media/x.ts', "export * from '../gateway/index.js';\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /src\/media may not import from src\/gateway \(allowed: sip, observability\)/);
  });

  test('src/api may not reach into the gateway; src/platform may wire everything', async () => {
    assert.equal((await layerErrors('src/api/routes/x.ts', "import '../../gateway/index.js';\n")).length, 1);
    assert.deepEqual(
      await layerErrors(
        'src/platform/x.ts',
        "import '../gateway/index.js';\nimport '../api/index.js';\nimport '../sip/index.js';\n",
      ),
      [],
    );
  });
});
