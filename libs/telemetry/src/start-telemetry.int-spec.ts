import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { exportsTraces } from './start-telemetry';

const REPO_ROOT = resolve(__dirname, '../../..');
const BUILT = join(REPO_ROOT, 'dist/libs/telemetry/src/start-telemetry.js');

/**
 * Starts the built telemetry in a fresh Node process, as an app's bootstrap does (jest's module
 * registry hides modules from the instrumentations), then loads `http` and `pg` and reports
 * whether the instrumentations wrapped them and whether a span started there is a real one.
 */
const PROBE = /* js */ `
  const { startTelemetry } = require(process.argv[1]);
  startTelemetry({ serviceName: 'telemetry-probe', env: process.env });
  const http = require('node:http');
  const { Client } = require('pg');
  const { trace } = require('@opentelemetry/api');
  const span = trace.getTracer('probe').startSpan('probe');
  console.log(JSON.stringify({
    httpServerWrapped: http.Server.prototype.emit.__wrapped === true,
    pgQueryWrapped: Client.prototype.query.__wrapped === true,
    spanRecorded: span.isRecording(),
  }));
  span.end();
  process.exit(0);
`;

async function probe(env: Record<string, string>) {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', PROBE, BUILT], {
    cwd: REPO_ROOT,
    env,
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, boolean>;
}

describe('startTelemetry', () => {
  it('without an OTLP endpoint records no span and installs no instrumentation', async () => {
    await expect(probe({})).resolves.toEqual({ httpServerWrapped: false, pgQueryWrapped: false, spanRecorded: false });
  });

  it.each(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'])(
    'with %s set records spans and instruments http and pg',
    async (variable) => {
      // Nothing listens there: the probe exits before the exporter's first flush.
      await expect(probe({ [variable]: 'http://127.0.0.1:9/' })).resolves.toEqual({
        httpServerWrapped: true,
        pgQueryWrapped: true,
        spanRecorded: true,
      });
    },
  );
});

describe('exportsTraces', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/v1/metrics' }, false],
  ])('%j: %s', (env, expected) => {
    expect(exportsTraces(env)).toBe(expected);
  });
});
