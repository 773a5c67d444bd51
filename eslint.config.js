// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.shellguard/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
    },
  },
  {
    // Benches and root tests use packages as their users do: the public index, or `/testing` for
    // test-only helpers and the internals a bench measures (packages/*/src/testing/index.ts).
    files: ['bench/**/*.ts', 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '(^|/)packages/[^/]+/src(/|$)|^@shellguard/[^/]+/src(/|$)',
          message: "Import '@shellguard/<pkg>' or '@shellguard/<pkg>/testing'; export what you need there instead of reaching into packages/*/src.",
        }],
      }],
    },
  },
);
