// Lint rules that keep the architecture honest (STYLE §1–§3): pure cores import no I/O, libs
// never reach into services, and only env.ts files read process.env.
import tseslint from 'typescript-eslint';

const ioModules = [
  'kafkajs',
  '@clickhouse/client',
  'fastify',
  'node:fs',
  'node:net',
  'node:http',
  '@aispm/kafka',
  '@aispm/clickhouse',
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.data/**',
      'libs/contracts/src/generated/**',
      'coverage/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration in env.ts through @aispm/config.',
        },
        {
          // A string statement is a constant; anything built from input goes through the sql tag,
          // whose values travel as query parameters.
          selector:
            "CallExpression[callee.property.name=/^(query|command)$/] > :matches(TemplateLiteral[expressions.length>0], BinaryExpression[operator='+']).arguments:first-child",
          message: 'Build ClickHouse statements with the sql tag of @aispm/clickhouse.',
        },
      ],
    },
  },
  { files: ['**/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    files: ['{libs,services}/*/src/env.ts', 'test/**/*.ts', 'libs/*/test/**/*.ts', 'services/*/test/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/services/**',
                '@aispm/ingest-gateway',
                '@aispm/api',
                '@aispm/redactor',
                '@aispm/normalizer',
                '@aispm/projector',
              ],
              message: 'libs/ never imports from services/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/redaction/src/**/*.ts', 'libs/normalization/src/**/*.ts', 'libs/projection/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: ioModules.map((name) => ({ name, message: 'Pure cores do no I/O.' })) },
      ],
    },
  },
);
