import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { checkArchitecture, formatViolation, type RepoFile } from './import-rules';

const REPO_ROOT = resolve(__dirname, '../..');
const SOURCE = /\.[cm]?[jt]s$/;

function sourceFiles(folder: string): RepoFile[] {
  return readdirSync(join(REPO_ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SOURCE.test(entry.name) && !entry.parentPath.includes(`${sep}node_modules`))
    .map((entry) => {
      const absolute = join(entry.parentPath, entry.name);
      return { path: relative(REPO_ROOT, absolute).split(sep).join('/'), text: readFileSync(absolute, 'utf8') };
    });
}

describe('the architecture rules of docs/architecture.md, checked on every source file', () => {
  const files = ['apps', 'libs', 'test'].flatMap(sourceFiles);

  it('reads the apps, the libs and the tests, specs included', () => {
    // Guards the check below against passing because the walk found nothing to check.
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'apps/ingest/src/main.ts',
        'apps/asana-simulator/test/simulator-harness.ts',
        'libs/contracts/src/index.ts',
        'libs/testing/src/index.ts',
        'test/e2e/pipeline-harness.ts',
        'test/architecture/imports.spec.ts',
      ]),
    );
    expect(paths.filter((path) => path.endsWith('.spec.ts')).length).toBeGreaterThan(20);
  });

  it('finds no violation: each line names the file:line, the rule and how to comply', () => {
    expect(checkArchitecture(files).map(formatViolation)).toEqual([]);
  });
});
