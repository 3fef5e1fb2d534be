import { checkArchitecture, findImports, formatViolation, resolveImport, type RepoFile } from './import-rules';

/** The files each check needs to pass, so a test adds only the one file that breaks a rule. */
const COMPLIANT: RepoFile[] = [
  ...['ingest', 'enricher', 'projector', 'fanout'].flatMap((service) => [
    {
      path: `apps/${service}/src/main.ts`,
      text: "import './telemetry';\nimport { NestFactory } from '@nestjs/core';\n",
    },
    {
      path: `apps/${service}/src/telemetry.ts`,
      text: "import { startTelemetry } from '@asana-stream/telemetry';\nstartTelemetry({ env: process.env });\n",
    },
  ]),
  { path: 'apps/enricher/src/enrich/enrich.service.ts', text: "import { TOPICS } from '@asana-stream/contracts';\n" },
  { path: 'libs/contracts/src/messages.ts', text: "import type { AsanaEvent } from '@asana-stream/asana';\n" },
];

function violationsWith(...files: RepoFile[]) {
  return checkArchitecture([...COMPLIANT, ...files]).map(({ file, line, rule }) => ({ file, line, rule }));
}

describe('findImports', () => {
  it('finds static, type-only, re-exported, dynamic, required and jest-mocked imports with their lines', () => {
    const imports = findImports({
      path: 'apps/enricher/src/x.spec.ts',
      text: [
        "import { a } from './a';",
        "import type { B } from './b';",
        "import { type C, type D } from './c';",
        "export * from './e';",
        "const f = require('./f');",
        "void import('./g');",
        "jest.mock('./h');",
        "type I = import('./i').I;",
        "import j = require('./j');",
        "import './k';",
      ].join('\n'),
    });

    expect(imports).toEqual([
      { specifier: './a', line: 1, typeOnly: false },
      { specifier: './b', line: 2, typeOnly: true },
      { specifier: './c', line: 3, typeOnly: true },
      { specifier: './e', line: 4, typeOnly: false },
      { specifier: './f', line: 5, typeOnly: false },
      { specifier: './g', line: 6, typeOnly: false },
      { specifier: './h', line: 7, typeOnly: false },
      { specifier: './i', line: 8, typeOnly: true },
      { specifier: './j', line: 9, typeOnly: false },
      { specifier: './k', line: 10, typeOnly: false },
    ]);
  });
});

describe('resolveImport', () => {
  it('names the app, lib or package an import lands in, whether relative, aliased or from the root', () => {
    const from = 'apps/enricher/src/enrich/paced-resource-fetcher.spec.ts';

    expect(resolveImport(from, './resource-state')).toEqual({ kind: 'app', name: 'enricher' });
    expect(resolveImport(from, '../../../asana-simulator/test/simulator-harness')).toEqual({
      kind: 'app',
      name: 'asana-simulator',
    });
    expect(resolveImport(from, '../../../../libs/db/src')).toEqual({ kind: 'lib', name: 'db' });
    expect(resolveImport(from, '@asana-stream/kafka')).toEqual({ kind: 'lib', name: 'kafka' });
    expect(resolveImport(from, 'apps/ingest/src/main')).toEqual({ kind: 'app', name: 'ingest' });
    expect(resolveImport(from, '@nestjs/typeorm')).toEqual({ kind: 'package', name: '@nestjs/typeorm' });
    expect(resolveImport(from, 'pg/lib/client')).toEqual({ kind: 'package', name: 'pg' });
    expect(resolveImport(from, 'node:fs')).toEqual({ kind: 'package', name: 'fs' });
  });
});

describe('checkArchitecture', () => {
  it('passes files that keep every rule', () => {
    expect(
      violationsWith(
        {
          path: 'apps/asana-simulator/src/x.spec.ts',
          text: "import { startSimulator } from '../test/simulator-harness';",
        },
        {
          path: 'test/e2e/h.ts',
          text: "import type { PipelineStatus } from '../../apps/cli/src/commands/status.command';",
        },
        { path: 'libs/testing/src/db.ts', text: 'export const url = process.env.DATABASE_URL;' },
        { path: 'libs/config/src/load.ts', text: 'export function load(env: NodeJS.ProcessEnv) { return env; }' },
        { path: 'apps/ingest/src/x.int-spec.ts', text: "import { freePort } from '@asana-stream/testing';" },
      ),
    ).toEqual([]);
  });

  it('catches a lib importing an app, even for types', () => {
    expect(
      violationsWith({
        path: 'libs/kafka/src/x.ts',
        text: "\nimport type { Relay } from '../../../apps/fanout/src/relay/relay';",
      }),
    ).toEqual([{ file: 'libs/kafka/src/x.ts', line: 2, rule: 'libs-never-import-apps' }]);
  });

  it('catches an app importing another app, and any app but the simulator importing the simulator, specs included', () => {
    expect(
      violationsWith(
        { path: 'apps/projector/src/x.ts', text: "const m = require('../../ingest/src/webhooks/x');" },
        {
          path: 'apps/enricher/src/enrich/paced-resource-fetcher.spec.ts',
          text: "import request from 'supertest';\nimport { startSimulator } from '../../../asana-simulator/test/simulator-harness';",
        },
      ),
    ).toEqual([
      {
        file: 'apps/enricher/src/enrich/paced-resource-fetcher.spec.ts',
        line: 2,
        rule: 'apps-never-import-the-simulator',
      },
      { file: 'apps/projector/src/x.ts', line: 1, rule: 'apps-never-import-other-apps' },
    ]);
  });

  it('catches libs/contracts importing Kafka or Postgres, through our libs or their drivers', () => {
    const contracts = (text: string): RepoFile => ({ path: 'libs/contracts/src/topology.ts', text });

    expect(
      violationsWith(
        contracts(
          [
            "import { KafkaPublisher } from '@asana-stream/kafka';",
            "import type { Outbox } from '@asana-stream/db';",
            "import { Kafka } from 'kafkajs';",
            "import { Entity } from 'typeorm';",
            "import { Pool } from 'pg';",
            "import { TOPICS } from './topics';",
          ].join('\n'),
        ),
      ).map((v) => v.line),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it('catches a lib reading process.env, however it spells it', () => {
    const lines = violationsWith({
      path: 'libs/kafka/src/x.ts',
      text: [
        'const a = process.env.KAFKA_BROKERS;',
        "const b = process['env'];",
        'const { env } = process;',
        "import { env as e } from 'node:process';",
        'const c = globalThis.process.env;',
        'const d: typeof process.env = {};',
      ].join('\n'),
    });

    expect(lines).toEqual(
      [1, 2, 3, 4, 5].map((line) => ({ file: 'libs/kafka/src/x.ts', line, rule: 'libs-never-read-process-env' })),
    );
  });

  it("catches a service whose main.ts loads anything before './telemetry'", () => {
    const files = COMPLIANT.filter((file) => file.path !== 'apps/fanout/src/main.ts');

    expect(
      checkArchitecture([
        ...files,
        { path: 'apps/fanout/src/main.ts', text: "import { NestFactory } from '@nestjs/core';\nimport './telemetry';" },
      ]).map(({ file, line, rule }) => ({ file, line, rule })),
    ).toEqual([{ file: 'apps/fanout/src/main.ts', line: 1, rule: 'services-start-telemetry-first' }]);
  });

  it('catches production code importing @asana-stream/testing', () => {
    expect(
      violationsWith({ path: 'libs/db/src/x.ts', text: "import { waitFor } from '@asana-stream/testing';" }),
    ).toEqual([{ file: 'libs/db/src/x.ts', line: 1, rule: 'production-code-never-imports-testing' }]);
  });

  it('catches test/ loading app code instead of running the app as a process', () => {
    expect(
      violationsWith({
        path: 'test/e2e/x.e2e-spec.ts',
        text: "import { IngestModule } from '../../apps/ingest/src/ingest.module';",
      }),
    ).toEqual([{ file: 'test/e2e/x.e2e-spec.ts', line: 1, rule: 'tests-import-apps-only-as-types' }]);
  });

  it('says where each violation is, which rule it breaks and what to do instead', () => {
    const [violation] = checkArchitecture([
      ...COMPLIANT,
      {
        path: 'apps/enricher/src/x.spec.ts',
        text: "import { startSimulator } from '../../asana-simulator/test/simulator-harness';",
      },
    ]);

    expect(formatViolation(violation)).toBe(
      "apps/enricher/src/x.spec.ts:1 [apps-never-import-the-simulator] imports '../../asana-simulator/test/simulator-harness' (apps/asana-simulator): only the simulator imports apps/asana-simulator; run it as a process with startSimulatorProcess from @asana-stream/testing",
    );
  });
});
