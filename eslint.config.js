import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import layerImports from './eslint/layer-imports.js';
import noSipGrammarRegex from './eslint/no-sip-grammar-regex.js';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: {
      voxgate: { rules: { 'layer-imports': layerImports, 'no-sip-grammar-regex': noSipGrammarRegex } },
    },
    rules: {
      'voxgate/layer-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // A promise nobody handles stops the process when it rejects (Node's default for unhandled rejections):
    // in src/ every promise is awaited, returned, or given a rejection handler — `void` does not count.
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
    },
  },
  {
    // SIP grammar is parsed in src/sip only: the gateway uses its parsers and helpers (eslint/no-sip-grammar-regex.js).
    files: ['src/gateway/**/*.ts'],
    rules: { 'voxgate/no-sip-grammar-regex': 'error' },
  },
  {
    // The web console runs in browsers (bundled by scripts/build-console.mjs).
    files: ['web/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['test/**', 'scripts/**', 'bench/**', 'eslint/**', 'src/bin/**'],
    rules: { 'no-console': 'off' },
  },
);
