// One jest run covers the three tiers; the file name decides the tier (see docs/architecture.md).
const { readFileSync } = require('node:fs');

const swcrc = JSON.parse(readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { swcrc: false, jsc: { ...swcrc.jsc, baseUrl: __dirname }, module: swcrc.module, sourceMaps: 'inline' },
  ],
};
// @nestjs/typeorm and @nestjs/terminus ship ESM only. Jest can require() ESM only when Node runs
// with --experimental-vm-modules, so compile them to CommonJS like our own code: otherwise no spec
// can load an app module (IngestModule, FanoutModule, ...) in-process.
// eventsource (the standard EventSource client the Events API's stream is tested with) and its
// parser are ESM only too.
const ESM_ONLY_PACKAGES = '(?:@nestjs/(?:typeorm|terminus)|eventsource|eventsource-parser)';
transform[`^.+/node_modules/${ESM_ONLY_PACKAGES}/.+\\.js$`] = transform['^.+\\.ts$'];
const transformIgnorePatterns = [`/node_modules/(?!${ESM_ONLY_PACKAGES}/)`];
const moduleNameMapper = {
  '^@asana-stream/([a-z-]+)$': '<rootDir>/libs/$1/src',
};
const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  setupFiles: ['reflect-metadata'],
  transform,
  transformIgnorePatterns,
  moduleNameMapper,
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.local/'],
};

/** @type {import('jest').Config} */
module.exports = {
  passWithNoTests: false,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Integration tests wait on a real broker and database; e2e files set their own, longer budget.
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
    },
    { ...common, displayName: 'int', testMatch: ['<rootDir>/{apps,libs,test}/**/*.int-spec.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
    },
  ],
};
