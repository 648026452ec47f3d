import type { Config } from 'jest';

/**
 * One Jest run for every package. Workspace packages resolve to their TypeScript sources, so
 * tests never depend on a stale build. A few dependencies ship ESM only; Jest on Node 20 needs
 * them transformed to CommonJS, and so do the harness's own ES modules.
 */
const esmOnly = ['cookie'];

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/test/**/*.test.ts'],
  moduleNameMapper: {
    // Sources import each other with the `.js` extension NodeNext requires; Jest resolves the `.ts`.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@ssekit/(core|express|fastify|koa|redis|fetch|client)$': '<rootDir>/packages/$1/src/index.ts',
    '^@ssekit/core/integration$': '<rootDir>/packages/core/src/integration.ts',
    // The test kit (private, never published) and the harness it shares with bench/ and stress/.
    '^@ssekit/testkit$': '<rootDir>/test/support/index.ts',
    '^@ssekit/testkit/(.+)$': '<rootDir>/test/support/$1.ts',
    '^@ssekit/harness/(.+)$': '<rootDir>/tools/harness/$1.mjs',
  },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
    '/tools/harness/.+\\.mjs$': '<rootDir>/test/support/transform-mjs.cjs',
    'node_modules/.+\\.m?js$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json', isolatedModules: true }],
  },
  transformIgnorePatterns: [`/node_modules/(?!\\.pnpm/(${esmOnly.join('|')})@|(${esmOnly.join('|')})/)`],
  testTimeout: 30_000,
  maxWorkers: 2,
};

export default config;
