import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './app-process';

const REPO_ROOT = resolve(__dirname, '../../..');
const run = promisify(execFile);

/**
 * A broker of a test's own (scripts/kafka.sh with its own home, ports and data), so it can be
 * stopped without stopping the one every other test uses. Its jars are the local broker's.
 */
export class PrivateBroker {
  private readonly home = mkdtempSync(join(tmpdir(), 'asana-stream-kafka-'));
  private env: Record<string, string> = {};

  get brokers(): string {
    return `127.0.0.1:${this.env.KAFKA_PORT}`;
  }

  async prepare(): Promise<void> {
    symlinkSync(join(REPO_ROOT, '.local/kafka/lib'), join(this.home, 'lib'));
    const [port, controllerPort] = [await freePort(), await freePort()];
    this.env = { KAFKA_HOME_DIR: this.home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort) };
  }

  /** `env NAME=value ... bash scripts/kafka.sh <command>`: its settings on top of this environment. */
  async script(command: 'start' | 'stop'): Promise<void> {
    const settings = Object.entries(this.env).map(([name, value]) => `${name}=${value}`);
    await run('env', [...settings, 'bash', join(REPO_ROOT, 'scripts/kafka.sh'), command], { timeout: 120_000 });
  }

  remove(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
