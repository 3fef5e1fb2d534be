import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as babel from 'prettier/plugins/babel';
import * as estree from 'prettier/plugins/estree';
import * as markdown from 'prettier/plugins/markdown';
import type { Options } from 'prettier';
import { format as prettierFormat } from 'prettier/standalone';
import { renderContractsDoc } from './contracts-doc';
import { breakingChanges } from './schema-compatibility';
import {
  PUBLISHED_CONTRACTS,
  publicationProblems,
  schemaFileName,
  type PublishedContract,
} from './published-contracts';

/** Where the published schema files are, from the repository root. */
export const SCHEMAS_DIR = 'libs/contracts/schemas';
/** The rendered contracts page, from the repository root. */
export const CONTRACTS_DOC = 'docs/contracts.md';

/** The committed schema files: file name → parsed JSON. */
export function readPublishedSchemas(root: string): Map<string, unknown> {
  const dir = join(root, SCHEMAS_DIR);
  const files = new Map<string, unknown>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    files.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown);
  }
  return files;
}

/**
 * What `contracts:write` writes, path (from the root) → text, formatted by the repository's
 * prettier settings so `npm run format` leaves it as it is: each contract's current version and
 * docs/contracts.md. Old versions are never rewritten.
 */
export async function publishedArtifacts(
  root: string,
  contracts: readonly PublishedContract[] = PUBLISHED_CONTRACTS,
): Promise<Map<string, string>> {
  const artifacts = new Map<string, string>();
  // Prettier's standalone build: its Node entry loads its core with a dynamic import(), which
  // jest's CommonJS runtime cannot run, and the spec must format exactly as this script does.
  const options = JSON.parse(readFileSync(join(root, '.prettierrc.json'), 'utf8')) as Options;
  const format = (path: string, text: string) =>
    prettierFormat(text, {
      ...options,
      ...(path.endsWith('.json')
        ? { parser: 'json', plugins: [babel, estree] }
        : { parser: 'markdown', plugins: [markdown] }),
    });
  for (const contract of contracts) {
    const path = `${SCHEMAS_DIR}/${schemaFileName(contract.name, contract.version)}`;
    artifacts.set(path, await format(path, JSON.stringify(contract.schema, null, 2)));
  }
  artifacts.set(CONTRACTS_DOC, await format(CONTRACTS_DOC, renderContractsDoc(contracts)));
  return artifacts;
}

/**
 * Writes the current schema files and docs/contracts.md, unless a current schema breaks the file
 * published for its version: that needs the version bumped, and the file is left as published.
 * Returns the problems left (empty when everything written is current).
 */
export async function writePublished(root: string): Promise<string[]> {
  const published = readPublishedSchemas(root);
  const refused: string[] = [];
  for (const contract of PUBLISHED_CONTRACTS) {
    const file = schemaFileName(contract.name, contract.version);
    const before = published.get(file);
    const breaking = before === undefined ? [] : breakingChanges(before, contract.schema);
    if (breaking.length > 0) refused.push(file);
  }
  mkdirSync(join(root, SCHEMAS_DIR), { recursive: true });
  for (const [path, text] of await publishedArtifacts(root)) {
    if (refused.some((file) => path.endsWith(`/${file}`))) continue;
    writeFileSync(join(root, path), text);
  }
  return publicationProblems(PUBLISHED_CONTRACTS, readPublishedSchemas(root));
}

// `npm run contracts:write` (from the built dist/, at the repository root).
if (require.main === module) {
  writePublished(resolve(process.argv[2] ?? '.')).then(
    (problems) => {
      for (const problem of problems) console.error(problem);
      process.exitCode = problems.length > 0 ? 1 : 0;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
