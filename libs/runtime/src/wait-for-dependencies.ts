import type { LoggerService } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsanaStreamError } from '@asana-stream/errors';

/** Something an app cannot start without (its database, its Kafka cluster). */
export interface StartupDependency {
  /** How operators call it: `postgres`, `kafka`. */
  readonly name: string;
  /** Where it is expected, without credentials: `127.0.0.1:5432`. */
  readonly address: string;
  /** The variable that says where it is, named when it never answers. */
  readonly variable: string;
  /** Values that must never reach a log line, such as the password in DATABASE_URL. */
  readonly secrets?: readonly string[];
  /** One attempt: resolves once the dependency answered. Should give up after `timeoutMs`. */
  attempt(timeoutMs: number): Promise<void>;
}

export interface StartupWaitOptions {
  /** Attempts per dependency before giving up (at least 1). */
  attempts: number;
  /** From the start of one attempt to the start of the next. */
  intervalMs: number;
  /** Where the line per failed attempt goes; none when absent. */
  logger?: Pick<LoggerService, 'warn'>;
}

/** What one dependency did on its last attempt, for the line that says why the app cannot start. */
export interface DependencyFailure {
  dependency: string;
  address: string;
  variable: string;
  attempts: number;
  elapsedMs: number;
  /** The last attempt's error, shortened to one line without secrets. */
  reason: string;
}

/** A dependency never answered at startup; the message names it, where, why and what to check. */
export class DependencyUnavailableError extends AsanaStreamError {
  constructor(readonly failures: DependencyFailure[]) {
    super('DEPENDENCY_UNAVAILABLE', failures.map(describeFailure).join('; '));
    this.name = 'DependencyUnavailableError';
  }
}

// A slow but healthy server (TLS, a remote region) must not fail just because the interval is short.
const MIN_ATTEMPT_TIMEOUT_MS = 1000;

/**
 * Waits for every dependency at once, each tried up to `attempts` times, `intervalMs` apart, so
 * the whole wait lasts about `attempts × intervalMs` whatever the failure (refused, unresolvable
 * or silent). Each failed attempt that will be retried logs one short line; when some dependency
 * never answers, this throws one `DependencyUnavailableError` naming every one that did not.
 */
export async function waitForDependencies(
  dependencies: readonly StartupDependency[],
  options: StartupWaitOptions,
): Promise<void> {
  const outcomes = await Promise.all(dependencies.map((dependency) => waitForDependency(dependency, options)));
  const failures = outcomes.filter((outcome) => outcome !== null);
  if (failures.length > 0) throw new DependencyUnavailableError(failures);
}

async function waitForDependency(
  dependency: StartupDependency,
  { attempts, intervalMs, logger }: StartupWaitOptions,
): Promise<DependencyFailure | null> {
  const timeoutMs = Math.max(intervalMs, MIN_ATTEMPT_TIMEOUT_MS);
  const started = Date.now();
  let reason = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const attemptStarted = Date.now();
    try {
      await withTimeout(dependency.attempt(timeoutMs), timeoutMs);
      return null;
    } catch (error) {
      reason = shortReason(error, dependency.secrets ?? []);
    }
    if (attempt === attempts) break;
    logger?.warn({
      msg: `waiting for ${dependency.name} at ${dependency.address} (attempt ${attempt}/${attempts}): ${reason}`,
      dependency: dependency.name,
      attempt,
    });
    await sleep(Math.max(0, attemptStarted + intervalMs - Date.now()));
  }
  const { name, address, variable } = dependency;
  return { dependency: name, address, variable, attempts, elapsedMs: Date.now() - started, reason };
}

async function withTimeout(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface SystemError extends Error {
  syscall?: string;
  code?: string;
}

/**
 * The root cause in a few words: `connect ECONNREFUSED` rather than a client library's wrapper
 * around it and the address the caller already states. Secrets are masked in case a driver
 * quotes its connection string.
 */
export function shortReason(error: unknown, secrets: readonly string[] = []): string {
  let root = error;
  for (let depth = 0; depth < 5 && root instanceof Error && root.cause !== undefined; depth++) root = root.cause;
  let text: string;
  if (root instanceof Error) {
    const { syscall, code } = root as SystemError;
    // Node's own errors end with the address; an AggregateError (one per address tried) has no message.
    if (syscall && code) text = `${syscall} ${code}`;
    else
      text = root.message
        .replace(/^Connection error: /, '')
        .replace(/\s+\S+:\d+$/, '')
        .trim();
    if (!text) text = code ?? root.name;
  } else {
    text = String(root);
  }
  for (const secret of secrets) if (secret) text = text.split(secret).join('***');
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 200 ? `${oneLine.slice(0, 199)}…` : oneLine;
}

function describeFailure({ dependency, address, variable, attempts, elapsedMs, reason }: DependencyFailure): string {
  const seconds = elapsedMs < 10_000 ? (elapsedMs / 1000).toFixed(1) : String(Math.round(elapsedMs / 1000));
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  return (
    `${dependency} at ${address} did not answer after ${tries} over ${seconds} s (${reason}); ` +
    `check that it runs and ${variable}`
  );
}
