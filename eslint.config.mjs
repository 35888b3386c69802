import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/contracts/src/gen/**', 'deploy/**', 'k8s/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Domain modules decide; they do no I/O (the service template, docs/architecture.md). Orchestration's
    // machine/ (the pure decide half of its decide/do split) is held to the same rule.
    files: [
      'services/{ingest,enrichment,pattern-detection,delivery,orchestration,prediction,analytics}/src/domain/**/*.ts',
      'services/orchestration/src/machine/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'mongodb',
                '@nats-io/*',
                '@grpc/*',
                'nodemailer',
                '@kairos/messaging',
                'node:fs',
                'node:fs/*',
                'node:http',
                'node:https',
                'node:net',
                'node:child_process',
                'fs',
                'http',
                'https',
                'net',
              ],
              message: 'domain modules do no I/O: take the result as an argument or a port instead',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'fetch', message: 'domain modules do no I/O' }],
    },
  },
  {
    // The analytics dashboard's script runs in the browser, with Chart.js loaded as a global.
    files: ['services/analytics/dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        URLSearchParams: 'readonly',
        FormData: 'readonly',
        Option: 'readonly',
        setInterval: 'readonly',
        Chart: 'readonly',
      },
    },
  },
);
