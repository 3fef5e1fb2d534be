import type { Command } from 'commander';
import { TopicNames } from '@asana-stream/contracts';
import {
  DEFAULT_LOOKUP_LIMITS,
  gidProblem,
  lookupResource,
  type ResourceLookup,
  type ScanRange,
} from '@asana-stream/lookup';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

/** A range as an operator reads it: where, how much, and whether the answer may be missing older entries. */
function describeScan(range: ScanRange): string {
  const read = range.to - range.from;
  const bounds = range.fromEarliest ? 'all it keeps' : `the last ${read} messages, older ones not read`;
  return `${range.topic} partition ${range.partition}: offsets ${range.from}..${range.to} (${bounds}${range.complete ? '' : '; TIMED OUT before the end'})`;
}

/** The one line that says nothing is known, and where that was checked. */
export function nothingKnown(lookup: ResourceLookup): string {
  return (
    `nothing known about gid ${lookup.gid}: no row in tasks, projects or resources, no outbox change, ` +
    `no dead letter and no event (${describeScan(lookup.events.scanned)}). ` +
    'Is the resource watched by a webhook (`asana-stream webhooks list`)? A change still on its way shows in `asana-stream status`.'
  );
}

/** The lookup as lines for a terminal, stage by stage in the order data flows. */
export function lookupLines(lookup: ResourceLookup): string[] {
  const lines = [`gid ${lookup.gid}`];
  lines.push('', `events on asana.events (${describeScan(lookup.events.scanned)}): ${lookup.events.entries.length}`);
  for (const e of lookup.events.entries) {
    lines.push(
      `  ${e.partition}:${e.offset}  ${e.createdAt ?? '-'}  ${e.action ?? '?'}${e.field ? ` ${e.field}` : ''}  source ${e.source ?? '?'}` +
        `  subscription ${e.subscriptionId ?? '-'}  delivery ${e.deliveryId ?? '-'}  trace ${e.traceId ?? '-'}` +
        (e.redrivenFrom ? `  re-driven from ${e.redrivenFrom}` : ''),
    );
  }
  lines.push('', `dead letters: ${lookup.deadLetters.entries.length}`);
  for (const range of lookup.deadLetters.scanned) lines.push(`  read ${describeScan(range)}`);
  for (const d of lookup.deadLetters.entries) {
    lines.push(
      `  ${d.topic} ${d.partition}:${d.offset}  ${d.pending ? 'PENDING' : 'handled'}  ${d.code ?? '-'}  ${d.deadLetteredAt}` +
        `  attempts ${d.attempts ?? '-'}  from ${d.source ?? '-'}  trace ${d.traceId ?? '-'}  ${d.reason ?? ''}`.trimEnd(),
    );
  }
  lines.push('', `projection rows: ${lookup.projections.length}`);
  for (const p of lookup.projections) {
    lines.push(
      `  ${p.table} (${p.type})  version ${p.version}  ${p.deletedAt ? `DELETED at ${p.deletedAt}` : 'live'}  updated ${p.updatedAt}`,
    );
  }
  const { outbox } = lookup;
  lines.push(
    '',
    `outbox changes: ${outbox.total}${outbox.total > outbox.rows.length ? ` (the last ${outbox.rows.length} shown)` : ''}`,
  );
  for (const o of outbox.rows) {
    lines.push(
      `  ${o.id}  ${o.action ?? '?'}${o.fields.length ? ` ${o.fields.join(',')}` : ''}  version ${o.version ?? '-'}  ${o.state.toUpperCase()}` +
        `  created ${o.createdAt}${o.publishedAt ? `  published ${o.publishedAt}` : ''}  trace ${o.traceId ?? '-'}` +
        (o.lastError ? `  attempts ${o.attempts}: ${o.lastError}` : ''),
    );
  }
  return lines;
}

export function registerLookupCommand(program: Command, context: () => CliContext): void {
  program
    .command('lookup')
    .description(
      'everything known about one resource: its projection rows, recent outbox changes and their publication, its dead letters, and its recent events with the delivery and trace id of each',
    )
    .argument('<gid>', 'the Asana gid of a task, project or other resource')
    .option('--json', 'print JSON (the same document as fanout’s GET /lookup/:gid)')
    .option(
      '--max-messages <n>',
      'messages read from the end of each topic partition',
      String(DEFAULT_LOOKUP_LIMITS.maxMessages),
    )
    .addHelpText(
      'after',
      '\nKafka is read only on the partition the gid is written to, for its last --max-messages messages and 10 s at most;\n' +
        'the output says which offsets were read. Exits 1 when nothing at all is known about the gid.',
    )
    .action(async (gid: string, options: { json?: boolean; maxMessages: string }) => {
      const problem = gidProblem(gid);
      if (problem) throw new CliFailure(problem);
      const maxMessages = Number(options.maxMessages);
      if (!Number.isInteger(maxMessages) || maxMessages < 1) {
        throw new CliFailure(`--max-messages takes a whole number above 0, got "${options.maxMessages}"`);
      }
      const { config, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const lookup = await withConnections(config, { kafka: true, database: true }, ({ kafka, admin, dataSource }) =>
        lookupResource({ db: dataSource, kafka, admin, names }, gid, { ...DEFAULT_LOOKUP_LIMITS, maxMessages }),
      );
      if (options.json) {
        print(JSON.stringify(lookup));
        if (!lookup.found) process.exitCode = 1;
        return;
      }
      if (!lookup.found) throw new CliFailure(nothingKnown(lookup));
      for (const line of lookupLines(lookup)) print(line);
    });
}
