import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';
import { AsanaStreamError } from '@asana-stream/errors';
import { SENSITIVE_KEYS } from './sensitive';

/** Thrown when the environment does not describe a runnable app; names every bad variable. */
export class ConfigError extends AsanaStreamError {
  declare readonly code: 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(
      'CONFIG_INVALID',
      `invalid configuration (fix these environment variables):\n  - ${problems.join('\n  - ')}`,
      {
        details: { problems },
      },
    );
    this.name = 'ConfigError';
  }
}

type EnvClass = new () => object;
type Parts = Readonly<Record<string, EnvClass>>;
/** The typed, nested configuration built from a set of parts. */
export type ConfigOf<P extends Parts> = { readonly [K in keyof P]: Readonly<InstanceType<P[K]>> };

/**
 * Validates an environment once, at startup, against each part and returns the typed nested
 * result. Unknown variables are ignored; every invalid one across all parts is reported at once.
 * A variable set to the empty string is an error (a manifest that names a variable but forgot its
 * value), unless its default is itself empty.
 */
export function loadConfig<P extends Parts>(parts: P, env: Record<string, string | undefined>): ConfigOf<P> {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const config: Record<string, object> = {};
  for (const [name, part] of Object.entries(parts)) {
    problems.push(...emptyVariables(part, env));
    const instance = plainToInstance(part, defined, { enableImplicitConversion: false, exposeDefaultValues: true });
    const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: true });
    problems.push(...errors.flatMap((error) => describe(error, defined)));
    config[name] = instance;
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return config as ConfigOf<P>;
}

/**
 * `NAME=""` for each variable of `part` set but empty where empty means nothing: one with a
 * non-empty default, or a required one. Where the default is empty or the variable is optional
 * (KAFKA_TOPIC_PREFIX, CONSUMER_GROUP_SUFFIX), empty is a deliberate "none" and passes.
 */
function emptyVariables(part: EnvClass, env: Record<string, string | undefined>): string[] {
  const defaults = new part() as Record<string, unknown>;
  const metadata = getMetadataStorage().getTargetValidationMetadatas(part, '', false, false);
  // @IsOptional() is stored as a conditional validation.
  const optional = new Set(metadata.filter((m) => m.type === 'conditionalValidation').map((m) => m.propertyName));
  const names = new Set(metadata.map((m) => m.propertyName));
  return [...names]
    .filter((variable) => env[variable] === '' && defaults[variable] !== '' && !optional.has(variable))
    .map((variable) => {
      const fallback = defaults[variable];
      const shown = SENSITIVE_KEYS.has(variable) ? 'its default' : `its default ${JSON.stringify(fallback)}`;
      return fallback === undefined
        ? `${variable}="": is set but empty; give it a value`
        : `${variable}="": is set but empty; give it a value or remove it to use ${shown}`;
    });
}

/** One line per failed constraint, showing the variable as it was set (secrets hidden). */
function describe(error: ValidationError, env: Record<string, string | undefined>): string[] {
  const own = Object.values(error.constraints ?? {}).map((message) => {
    const raw = env[error.property];
    const shown = raw === undefined ? '(unset)' : SENSITIVE_KEYS.has(error.property) ? '(hidden)' : JSON.stringify(raw);
    return `${error.property}=${shown}: ${message.replace(new RegExp(`^${error.property} `), '')}`;
  });
  return [...own, ...(error.children ?? []).flatMap((child) => describe(child, env))];
}

/** A copy of a config part with every sensitive field masked, for logs. */
export function maskSecrets(part: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(part).map(([k, v]) => [k, SENSITIVE_KEYS.has(k) && v ? '***' : v]));
}
