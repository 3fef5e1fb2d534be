import { AsanaStreamError } from '@asana-stream/errors';

/** A dependency the command could not connect to, with what was tried. */
export class DependencyUnavailableError extends AsanaStreamError {
  constructor(
    readonly dependency: 'kafka' | 'postgres',
    /** KAFKA_BROKERS, or DATABASE_URL (never shown whole: it may hold a password). */
    readonly target: string,
    cause: unknown,
  ) {
    super('DEPENDENCY_UNAVAILABLE', `${dependency} unavailable`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}

/** An outcome the command itself judged a failure; its message is already the one line to show. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** Printed after a hint about missing things: where the demo's settings are. */
export const DEMO_ENV_HINT = 'after `npm start`, first run `source .local/demo/env`';

interface ErrorFields {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  originalError?: unknown;
}

/** The innermost cause that says something: a Node network code or a Postgres SQLSTATE. */
function rootCause(error: unknown): { code?: string; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current; depth++) {
    const fields = current as ErrorFields;
    if (typeof fields.code === 'string')
      return { code: fields.code, message: typeof fields.message === 'string' ? fields.message : fields.code };
    if (Array.isArray(fields.errors) && fields.errors.length > 0) current = fields.errors[0];
    else current = fields.originalError ?? fields.cause;
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

/** `host:port/database` of a Postgres URL: what to name without its password. */
export function describeDatabaseUrl(url: string): { where: string; database: string } {
  try {
    const parsed = new URL(url);
    return { where: parsed.host || 'localhost', database: decodeURIComponent(parsed.pathname.slice(1)) };
  } catch {
    return { where: '(unparsable DATABASE_URL)', database: '' };
  }
}

function postgresLine(target: string, cause: unknown): string {
  const { where, database } = describeDatabaseUrl(target);
  const { code, message } = rootCause(cause);
  switch (code) {
    case '3D000':
      return `database "${database}" does not exist on the Postgres server at ${where}: run \`asana-stream setup\` to create it, or point DATABASE_URL at the installation's database (${DEMO_ENV_HINT})`;
    case '28P01':
    case '28000':
      return `Postgres at ${where} refused the login (${message}): check the user and password in DATABASE_URL`;
    default:
      return `no Postgres server answers at ${where} (${code ?? message}): start it (on this machine: bash scripts/postgres.sh ensure) or set DATABASE_URL`;
  }
}

/**
 * The one line an operator sees when a command fails: what failed, where, and what to do.
 * Secrets (a DATABASE_URL's password) never appear.
 */
export function describeCliFailure(error: unknown): string {
  if (error instanceof DependencyUnavailableError) {
    if (error.dependency === 'postgres') return postgresLine(error.target, error.cause);
    const { code, message } = rootCause(error.cause);
    return `no Kafka broker answers at ${error.target} (${code ?? message}): start it (on this machine: bash scripts/kafka.sh start) or set KAFKA_BROKERS`;
  }
  const { code, message } = rootCause(error);
  if (code === '42P01') {
    return `the database has no asana-stream schema (${message}): run \`asana-stream setup\` (${DEMO_ENV_HINT})`;
  }
  return error instanceof Error ? error.message : String(error);
}
