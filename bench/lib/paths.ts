import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The repository's root, found from this file whether it runs compiled (dist/bench/lib) or as
 * TypeScript under jest (bench/lib): the first folder up that holds bench/bench-results.schema.json.
 */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bench/bench-results.schema.json')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

/**
 * The folder the apps, libs and benchmarks of this run were compiled into (bench/bench.sh makes
 * one per run): compiled, this file is `<build>/bench/lib/paths.js`.
 */
export function buildRoot(): string {
  return resolve(__dirname, '../..');
}
