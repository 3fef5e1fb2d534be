import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface LockedPackage {
  version?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(__dirname, '../../package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
};

/** Where npm resolves `name` from the package at `path`: its own node_modules, then each parent's. */
function resolveFrom(path: string, name: string): string | undefined {
  let dir = path;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const parent = dir.lastIndexOf('/node_modules/');
    dir = parent < 0 ? '' : dir.slice(0, parent);
  }
}

/*
 * `npm ci` installs exactly the lockfile and refuses one that lacks a package the tree needs.
 * A lockfile written where the registry served only this platform's native binaries would pass
 * here and fail elsewhere, or fail here on the day the registry serves more: every platform's
 * optional package must be locked.
 */
describe('package-lock.json', () => {
  it('is a lockfile npm ci can install on any platform (v3, every optional package locked)', () => {
    expect(lock.lockfileVersion).toBe(3);
    const missing: string[] = [];
    for (const [path, pkg] of Object.entries(lock.packages)) {
      for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
        if (!resolveFrom(path, name)) missing.push(`${path || '(root)'} → ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('locks the native binaries of other platforms too, marked optional', () => {
    const swcBinaries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/@swc/core-'));
    const platforms = new Set(swcBinaries.flatMap(([, pkg]) => pkg.os ?? []));
    expect(platforms).toEqual(new Set(['darwin', 'linux', 'win32']));
    for (const [, pkg] of swcBinaries) expect(pkg.optional).toBe(true);
  });
});
