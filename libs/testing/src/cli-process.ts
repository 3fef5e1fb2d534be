import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TEST_BROKERS } from './test-kafka';
import { TEST_WEBHOOK_SECRET_KEYS } from './test-webhook-secrets';

const REPO_ROOT = resolve(__dirname, '../../..');
const CLI = join(REPO_ROOT, 'dist/apps/cli/src/main.js');

export interface CliRun {
  /** The exit code (0 when it succeeded). */
  code: number;
  stdout: string;
  stderr: string;
  /** How long the command ran. */
  ms: number;
}

/**
 * The operators' cli as they run it (`node dist/apps/cli/src/main.js …`), with only PATH, the test
 * broker, TEST_WEBHOOK_SECRET_KEYS and `env`, so nothing of the test's own environment leaks in. A failing command is a
 * result, not an exception; one still running after `timeoutMs` is. Needs `npm run build`.
 */
export async function runCli(
  env: Record<string, string>,
  args: string[],
  { timeoutMs = 45_000 }: { timeoutMs?: number } = {},
): Promise<CliRun> {
  const started = Date.now();
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: TEST_BROKERS,
        WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS,
        ...env,
      },
      cwd: REPO_ROOT,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr, ms: Date.now() - started };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string; killed?: boolean };
    if (failed.killed) {
      throw new Error(`asana-stream ${args.join(' ')} did not end within ${timeoutMs} ms`, { cause: error });
    }
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr, ms: Date.now() - started };
  }
}
