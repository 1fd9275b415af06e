// Type-aware lint, after opentelemetry-js: floating promises and type-only imports are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { roomsPlugin } from './scripts/lint-rooms.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', 'manifests/**', 'coverage/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
              package: 'node:test',
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Use explicit named exports (STYLE.md).' },
      ],
    },
  },
  {
    // The rooms' allowed arrows (docs/ARCHITECTURE.md "Allowed arrows"; the table is scripts/lint-rooms.mjs).
    files: ['src/**/*.ts'],
    plugins: { sentinel: roomsPlugin },
    rules: { 'sentinel/rooms': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
