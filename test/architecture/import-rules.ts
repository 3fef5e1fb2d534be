import { posix } from 'node:path';
import ts from 'typescript';

/** A source file by its path from the repository root (forward slashes) and its text. */
export interface RepoFile {
  path: string;
  text: string;
}

/** Which part of the repository a file is in, or what an import names. */
export type ModuleRef =
  | { kind: 'app'; name: string }
  | { kind: 'lib'; name: string }
  | { kind: 'test' }
  | { kind: 'package'; name: string }
  | { kind: 'other'; path: string };

/** One import, `require`, dynamic `import()`, `jest.mock` or import type in a file. */
export interface ImportRef {
  specifier: string;
  line: number;
  /** Erased from the emitted JavaScript: it cannot load the module at run time. */
  typeOnly: boolean;
}

export type RuleId =
  | 'libs-never-import-apps'
  | 'apps-never-import-other-apps'
  | 'apps-never-import-the-simulator'
  | 'contracts-import-no-infrastructure'
  | 'libs-never-read-process-env'
  | 'services-start-telemetry-first'
  | 'production-code-never-imports-testing'
  | 'tests-import-apps-only-as-types';

/** What each rule demands and how to comply, printed with every violation. */
export const RULES: Record<RuleId, string> = {
  'libs-never-import-apps': 'libs never import apps; move what both need into a lib',
  'apps-never-import-other-apps': 'an app never imports another app; share the code through a lib',
  'apps-never-import-the-simulator':
    'only the simulator imports apps/asana-simulator; run it as a process with startSimulatorProcess from @asana-stream/testing',
  'contracts-import-no-infrastructure':
    'libs/contracts imports neither Kafka nor Postgres (@asana-stream/kafka, @asana-stream/db, kafkajs, typeorm, @nestjs/typeorm, pg)',
  'libs-never-read-process-env':
    'libs never read process.env; the app validates its env with libs/config and passes the values in',
  'services-start-telemetry-first':
    "a service's main.ts imports './telemetry' (which starts @asana-stream/telemetry) before anything else, or the instrumentations miss the modules loaded earlier",
  'production-code-never-imports-testing': 'only tests import @asana-stream/testing',
  'tests-import-apps-only-as-types':
    'test/ runs apps as processes through their entrypoints; it may import their types only (import type)',
};

export interface Violation {
  file: string;
  line: number;
  rule: RuleId;
  /** What the file does that breaks the rule, e.g. the import and what it resolves to. */
  detail: string;
}

/** The four deployed services: each main.ts must start OpenTelemetry first (docs/architecture.md, Tracing). */
export const SERVICES = ['ingest', 'enricher', 'projector', 'fanout'];
const SIMULATOR = 'asana-simulator';
const INFRASTRUCTURE_FOR_CONTRACTS = new Set(['lib:kafka', 'lib:db', 'kafkajs', 'typeorm', '@nestjs/typeorm', 'pg']);
// Its env reads are the test run's own settings (KAFKA_BROKERS, DATABASE_URL, the template
// database's name handed from jest's global setup to the workers), not an app's configuration.
const MAY_READ_PROCESS_ENV = new Set(['testing']);
// tsconfig's baseUrl is the repository root, so `apps/x/src/y` resolves as a path, not a package.
const ROOT_FOLDERS = new Set(['apps', 'libs', 'test']);
const ALIAS = '@asana-stream/';
const JEST_MODULE_CALLS = new Set(['mock', 'doMock', 'unmock', 'requireActual', 'requireMock', 'createMockFromModule']);

/** Which app, lib or folder a file (path from the repository root) belongs to. */
export function ownerOf(path: string): ModuleRef {
  const [top, name] = path.split('/');
  if (top === 'apps' && name) return { kind: 'app', name };
  if (top === 'libs' && name) return { kind: 'lib', name };
  if (top === 'test') return { kind: 'test' };
  return { kind: 'other', path };
}

/**
 * What `specifier`, imported by the file at `fromPath`, names: a relative path or one from the
 * root (baseUrl) becomes the app, lib or test folder it lands in, `@asana-stream/<lib>` the lib,
 * anything else a package.
 */
export function resolveImport(fromPath: string, specifier: string): ModuleRef {
  if (specifier.startsWith('.')) {
    const target = posix.normalize(posix.join(posix.dirname(fromPath), specifier));
    return target.startsWith('../') ? { kind: 'other', path: target } : ownerOf(target);
  }
  if (specifier.startsWith(ALIAS)) return { kind: 'lib', name: specifier.slice(ALIAS.length).split('/')[0] };
  const segments = specifier.replace(/^node:/, '').split('/');
  if (ROOT_FOLDERS.has(segments[0]) && segments.length > 1) return ownerOf(posix.normalize(specifier));
  const name = segments[0].startsWith('@') ? segments.slice(0, 2).join('/') : segments[0];
  return { kind: 'package', name };
}

function describeRef(ref: ModuleRef): string {
  switch (ref.kind) {
    case 'app':
      return `apps/${ref.name}`;
    case 'lib':
      return `libs/${ref.name}`;
    case 'test':
      return 'test/';
    case 'package':
      return ref.name;
    case 'other':
      return ref.path;
  }
}

function parse(file: RepoFile): ts.SourceFile {
  return ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

function literalText(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x'` runs the module
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    !clause.name &&
    !!bindings &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return (
    !!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly)
  );
}

/** The module a call loads: `require(x)`, `require.resolve(x)`, `import(x)`, `jest.mock(x)` and kin. */
function calledSpecifier(call: ts.CallExpression): string | undefined {
  const callee = call.expression;
  const loads =
    callee.kind === ts.SyntaxKind.ImportKeyword ||
    (ts.isIdentifier(callee) && callee.text === 'require') ||
    (ts.isPropertyAccessExpression(callee) &&
      ts.isIdentifier(callee.expression) &&
      ((callee.expression.text === 'require' && callee.name.text === 'resolve') ||
        (callee.expression.text === 'jest' && JEST_MODULE_CALLS.has(callee.name.text))));
  return loads ? literalText(call.arguments[0]) : undefined;
}

function importsOf(source: ts.SourceFile): ImportRef[] {
  const found: ImportRef[] = [];
  const add = (node: ts.Node, specifier: string | undefined, typeOnly: boolean) => {
    if (specifier !== undefined) found.push({ specifier, line: lineOf(source, node), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, literalText(node.moduleSpecifier), isTypeOnlyImport(node));
    else if (ts.isExportDeclaration(node)) add(node, literalText(node.moduleSpecifier), isTypeOnlyExport(node));
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, literalText(node.moduleReference.expression), node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      add(node, ts.isLiteralTypeNode(argument) ? literalText(argument.literal) : undefined, true);
    } else if (ts.isCallExpression(node)) add(node, calledSpecifier(node), false);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every import of a file, with its line, whether it is erased at run time, and what it names. */
export function findImports(file: RepoFile): ImportRef[] {
  return importsOf(parse(file));
}

function isProcess(node: ts.Expression): boolean {
  return (
    (ts.isIdentifier(node) && node.text === 'process') ||
    (ts.isPropertyAccessExpression(node) && node.name.text === 'process' && ts.isIdentifier(node.expression))
  );
}

/** Lines that read the environment: `process.env`, `process['env']`, `{ env } = process`, `env` from 'node:process'. */
function processEnvReads(source: ts.SourceFile): number[] {
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) {
      lines.push(lineOf(source, node));
    } else if (
      ts.isElementAccessExpression(node) &&
      literalText(node.argumentExpression) === 'env' &&
      isProcess(node.expression)
    ) {
      lines.push(lineOf(source, node));
    } else if (
      ts.isVariableDeclaration(node) &&
      ts.isObjectBindingPattern(node.name) &&
      node.initializer &&
      isProcess(node.initializer) &&
      node.name.elements.some((e) => (e.propertyName ?? e.name).getText(source) === 'env')
    ) {
      lines.push(lineOf(source, node));
    } else if (
      ts.isImportDeclaration(node) &&
      /^(node:)?process$/.test(literalText(node.moduleSpecifier) ?? '') &&
      node.importClause?.namedBindings &&
      ts.isNamedImports(node.importClause.namedBindings) &&
      node.importClause.namedBindings.elements.some((e) => (e.propertyName ?? e.name).text === 'env')
    ) {
      lines.push(lineOf(source, node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

/** Specs and what only tests load: the apps' `test/` folders and libs/testing. */
export function isTestCode(path: string): boolean {
  return (
    /\.(spec|int-spec|e2e-spec)\.[cm]?[jt]s$/.test(path) ||
    /^apps\/[^/]+\/test\//.test(path) ||
    path.startsWith('libs/testing/') ||
    path.startsWith('test/')
  );
}

function importViolation(file: RepoFile, ref: ImportRef, target: ModuleRef): RuleId | undefined {
  const owner = ownerOf(file.path);
  if (owner.kind === 'lib' && target.kind === 'app') return 'libs-never-import-apps';
  if (owner.kind === 'app' && target.kind === 'app' && target.name !== owner.name) {
    return target.name === SIMULATOR ? 'apps-never-import-the-simulator' : 'apps-never-import-other-apps';
  }
  if (owner.kind === 'lib' && owner.name === 'contracts') {
    const key = target.kind === 'lib' ? `lib:${target.name}` : target.kind === 'package' ? target.name : '';
    if (INFRASTRUCTURE_FOR_CONTRACTS.has(key)) return 'contracts-import-no-infrastructure';
  }
  if (owner.kind === 'test' && target.kind === 'app' && !ref.typeOnly) return 'tests-import-apps-only-as-types';
  if (target.kind === 'lib' && target.name === 'testing' && !isTestCode(file.path)) {
    return 'production-code-never-imports-testing';
  }
  return undefined;
}

/** A service's main.ts must import its telemetry.ts first, and that file must start @asana-stream/telemetry. */
function telemetryViolations(byPath: Map<string, ts.SourceFile>): Violation[] {
  const violations: Violation[] = [];
  for (const service of SERVICES) {
    const mainPath = `apps/${service}/src/main.ts`;
    const main = byPath.get(mainPath);
    if (!main) continue;
    const first = main.statements.find((s) => ts.isImportDeclaration(s) || ts.isImportEqualsDeclaration(s));
    const firstSpecifier = first && ts.isImportDeclaration(first) ? literalText(first.moduleSpecifier) : undefined;
    if (firstSpecifier !== './telemetry') {
      violations.push({
        file: mainPath,
        line: first ? lineOf(main, first) : 1,
        rule: 'services-start-telemetry-first',
        detail: `first import is ${firstSpecifier === undefined ? 'not an import of ./telemetry' : `'${firstSpecifier}'`}`,
      });
      continue;
    }
    const telemetryPath = `apps/${service}/src/telemetry.ts`;
    const telemetry = byPath.get(telemetryPath);
    if (!telemetry || !importsOf(telemetry).some((ref) => ref.specifier === `${ALIAS}telemetry`)) {
      violations.push({
        file: telemetry ? telemetryPath : mainPath,
        line: 1,
        rule: 'services-start-telemetry-first',
        detail: telemetry ? `does not import ${ALIAS}telemetry` : `${telemetryPath} is missing`,
      });
    }
  }
  return violations;
}

/** Every violation of the architecture's import rules in these files, in file and line order. */
export function checkArchitecture(files: RepoFile[]): Violation[] {
  const violations: Violation[] = [];
  const byPath = new Map<string, ts.SourceFile>();
  for (const file of files) {
    const source = parse(file);
    byPath.set(file.path, source);
    for (const ref of importsOf(source)) {
      const target = resolveImport(file.path, ref.specifier);
      const rule = importViolation(file, ref, target);
      if (rule) {
        const kind = ref.typeOnly ? 'imports types from' : 'imports';
        violations.push({
          file: file.path,
          line: ref.line,
          rule,
          detail: `${kind} '${ref.specifier}' (${describeRef(target)})`,
        });
      }
    }
    const owner = ownerOf(file.path);
    if (owner.kind === 'lib' && !MAY_READ_PROCESS_ENV.has(owner.name)) {
      for (const line of processEnvReads(source)) {
        violations.push({ file: file.path, line, rule: 'libs-never-read-process-env', detail: 'reads process.env' });
      }
    }
  }
  violations.push(...telemetryViolations(byPath));
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** One line a developer can act on: where, which rule, what the file does, and what the rule wants. */
export function formatViolation(violation: Violation): string {
  return `${violation.file}:${violation.line} [${violation.rule}] ${violation.detail}: ${RULES[violation.rule]}`;
}
