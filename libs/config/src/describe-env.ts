import { getMetadataStorage } from 'class-validator';
import { APP_CONFIG_PARTS, type AppName } from './app-configs';
import { SENSITIVE_KEYS } from './sensitive';

export interface EnvVariable {
  name: string;
  /** The default as a string, or undefined when there is none. */
  defaultValue: string | undefined;
  /** Neither set by default nor optional: the app refuses to start without it. */
  required: boolean;
  sensitive: boolean;
}

/** Every environment variable an app reads, from its config classes' validation metadata. */
export function envVariablesOf(app: AppName): EnvVariable[] {
  const storage = getMetadataStorage();
  const found = new Map<string, EnvVariable>();
  for (const part of Object.values(APP_CONFIG_PARTS[app]) as (new () => object)[]) {
    const defaults = new part() as Record<string, unknown>;
    const metadata = storage.getTargetValidationMetadatas(part, '', false, false);
    // @IsOptional() is stored as a conditional validation.
    const optional = new Set(metadata.filter((m) => m.type === 'conditionalValidation').map((m) => m.propertyName));
    for (const { propertyName } of metadata) {
      const value = defaults[propertyName];
      found.set(propertyName, {
        name: propertyName,
        defaultValue: typeof value === 'string' || typeof value === 'number' ? String(value) : undefined,
        required: value === undefined && !optional.has(propertyName),
        sensitive: SENSITIVE_KEYS.has(propertyName),
      });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** `--help` text: what the app does and every variable it reads, with defaults. */
export function envHelp(app: AppName, summary: string): string {
  const rows = envVariablesOf(app).map(({ name, defaultValue, required, sensitive }) => {
    const shown = required
      ? '(required)'
      : defaultValue === undefined
        ? '(optional)'
        : sensitive
          ? '(has a default; secret)'
          : JSON.stringify(defaultValue);
    return `  ${name.padEnd(28)} ${shown}`;
  });
  return [
    `asana-stream ${app}: ${summary}`,
    '',
    `Usage: node dist/apps/${app}/src/main.js   (configured by environment variables only)`,
    '',
    'Environment (default):',
    ...rows,
    '  OTEL_EXPORTER_OTLP_ENDPOINT  unset: no tracing at all; set it to trace and export OTLP/HTTP',
    '  OTEL_SERVICE_NAME, OTEL_*    the OpenTelemetry SDK reads its standard variables',
    '',
    'Health: GET /health/live and GET /health/ready on PORT.',
  ].join('\n');
}
