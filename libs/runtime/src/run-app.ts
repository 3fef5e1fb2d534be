import type { ConsoleLogger, LogLevel } from '@nestjs/common';
import { isAsanaStreamError } from '@asana-stream/errors';
import { JsonLogger } from './json-logger';

const LEVELS: Record<string, LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

/** Exit code for a configuration the app cannot run with (sysexits' EX_CONFIG). */
export const EXIT_CONFIG = 78;

/**
 * The JSON logger every app uses: one object per line, fixed message plus fields, and the active
 * span's `trace_id` and `span_id` (see `JsonLogger`).
 */
export function createJsonLogger(appName: string, level = 'info'): ConsoleLogger {
  return new JsonLogger(appName, { logLevels: LEVELS[level] ?? LEVELS.info });
}

interface ErrorWithProblems extends Error {
  problems?: string[];
}

/**
 * Runs an app's bootstrap with the project's logger, reports what it serves, and turns startup
 * failures into one clear message and a non-zero exit instead of a stack trace. With `--help`
 * it prints `help` and exits instead.
 * `LOG_LEVEL` is read here because the logger must exist before configuration is validated.
 */
export async function runApp(
  appName: string,
  start: (logger: ConsoleLogger) => Promise<Record<string, unknown>>,
  { env, argv, help }: { env: Record<string, string | undefined>; argv: string[]; help: string },
): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${help}\n`);
    return;
  }
  const logger = createJsonLogger(appName, env.LOG_LEVEL);
  try {
    const details = await start(logger);
    logger.log({ msg: `${appName} started`, ...details });
  } catch (error) {
    const err = error as ErrorWithProblems;
    if (isAsanaStreamError(error) && error.code === 'CONFIG_INVALID') {
      logger.fatal({ msg: `${appName} cannot start: invalid configuration`, problems: err.problems });
      process.exitCode = EXIT_CONFIG;
    } else {
      logger.fatal({ msg: `${appName} cannot start: ${err.message ?? String(error)}`, error: err.name });
      process.exitCode = 1;
    }
    // Open handles (Kafka retries, pools) would keep a failed process alive.
    setTimeout(() => process.exit(), 200).unref();
  }
}
