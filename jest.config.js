// Tests run from TypeScript sources through swc, which strips types without checking them;
// `npm run typecheck` (tsc -b) is the type gate. Workspace imports resolve to sources, so a
// test never runs against a stale dist/.
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];
const shared = {
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^@aispm/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts' },
  testEnvironment: 'node',
};
module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/{libs,services}/*/test/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/{integration,e2e}/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testEnvironment: '<rootDir>/test/support/reaping-environment.js',
      slowTestThreshold: 60,
    },
    {
      // Kill services, stop servers of their own, send hostile input: `npm run test:faults`.
      ...shared,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testEnvironment: '<rootDir>/test/support/reaping-environment.js',
      slowTestThreshold: 300,
    },
  ],
};
