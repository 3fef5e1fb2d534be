import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';

export interface TelemetryOptions {
  /** `service.name` of every span, e.g. `asana-stream-ingest`; `OTEL_SERVICE_NAME` overrides it. */
  serviceName: string;
  /** The environment the OpenTelemetry SDK reads its `OTEL_*` settings from. */
  env: Record<string, string | undefined>;
}

let sdk: NodeSDK | undefined;

/** Probes and scrapes: frequent, and nothing an SRE follows a delivery through. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * Starts the OpenTelemetry Node SDK with the maintained instrumentations of http, Nest, pg, and
 * undici for `fetch`, which the Asana client uses. Kafka's spans are made by libs/kafka (the
 * publisher and the consumer transport); kafkajs' instrumentation would add only a trace per
 * consumed batch that joins nothing (about a tenth of the projector's CPU). Not express either: it
 * adds a span per middleware layer of every request (about a tenth of ingest's CPU under load)
 * and says nothing the http server span and Nest's handler span do not.
 * Must run before any of those modules is loaded,
 * which is why each app's `main.ts` imports its telemetry bootstrap first.
 *
 * Spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific
 * variable) is set (`exportsTraces`). Otherwise the SDK starts no tracer provider: no span is
 * recorded, no trace begins, and only a `traceparent` that arrived in a Kafka header or an outbox
 * row is passed on. The instrumentations are then not installed either: they would record nothing
 * and cost ingest about a quarter of its throughput under load (`npm run bench -- ingest`).
 */
export function startTelemetry({ serviceName, env }: TelemetryOptions): void {
  if (sdk) return;
  const exporting = exportsTraces(env);
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? serviceName,
    ...(exporting ? {} : { spanProcessors: [] }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: exporting ? tracingInstrumentations() : [],
  });
  sdk.start();
}

/** Whether the environment names an OTLP endpoint for traces: only then are spans made and exported. */
export function exportsTraces(env: Record<string, string | undefined>): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

function tracingInstrumentations() {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
    }),
    new NestInstrumentation(),
    new PgInstrumentation({ requireParentSpan: true }),
    new UndiciInstrumentation(),
  ];
}

/** Flushes and stops the SDK; spans still buffered are exported first. */
export async function shutdownTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}
