import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ROUTE_NAME, routeTopic, TopicNames, type Route } from '@asana-stream/contracts';
import { applyRoutes, deleteRoute, listRoutes, planRoutes, type RoutesPlan } from '@asana-stream/db';
import { ensureTopics } from '@asana-stream/kafka';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';
import { parseRouteFile, RouteFileError } from './route-file';

/** The plan as lines: `+` created, `~` updated, `-` deleted, `=` unchanged. */
function planLines(plan: RoutesPlan, topicOf: (name: string) => string, missing: ReadonlySet<string>): string[] {
  const topic = (name: string): string => `${topicOf(name)}${missing.has(topicOf(name)) ? ', topic to create' : ''}`;
  return [
    ...plan.create.map((r) => `+ create ${r.name} (${topic(r.name)}): ${JSON.stringify(r.filter)}`),
    ...plan.update.map(
      (u) => `~ update ${u.name} (${topic(u.name)}): ${JSON.stringify(u.from)} -> ${JSON.stringify(u.to)}`,
    ),
    ...plan.delete.map((name) => `- delete ${name} (its topic ${topicOf(name)} stays, with what it holds)`),
    ...plan.unchanged.map((name) => `= unchanged ${name} (${topic(name)})`),
  ];
}

function readRoutes(file: string): Route[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliFailure(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return parseRouteFile(text, file);
  } catch (error) {
    if (error instanceof RouteFileError) {
      throw new CliFailure(`${file} is not a valid routes file; nothing was changed:\n${error.message}`);
    }
    throw error;
  }
}

/**
 * `asana-stream routes apply|list|delete`: the routes teams declare, each a filter of the changes
 * and a topic of their own, `asana.routes.<name>`. `apply` is declarative: the file is the whole set.
 */
export function registerRoutesCommands(program: Command, context: () => CliContext): void {
  const routes = program
    .command('routes')
    .description(
      "manage routes: a team's own topic (asana.routes.<name>) and Events API view (GET /events?route=<name>) of the changes matching a filter",
    );

  routes
    .command('apply')
    .description(
      'make the routes exactly those of a YAML file (creates, updates and deletes routes; creates their topics); fanout applies the change within seconds',
    )
    .requiredOption('--file <path>', 'the routes file: `routes:` then a list of {name, filter}; see docs/consuming.md')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'print the plan as JSON')
    .addHelpText(
      'after',
      `
A filter's criteria (all optional; every one given must hold, any value of a list may):
  types     resource types            [task, project]
  actions   created|updated|deleted|undeleted
  projects  project gids the resource is in (state.projects, state.memberships) before or after the change
  fields    field names: at least one changed (a key of the change's changes)
  where     a field's new value on state, by dotted path   { assignee.gid: '1200000000000042' }

Example routes.yaml:
routes:
  - name: billing-tasks
    filter: { types: [task], projects: ['1200000000000001'], fields: [assignee, completed] }
  - name: everything-deleted
    filter: { actions: [deleted] }`,
    )
    .action(async (options: { file: string; dryRun?: boolean; json?: boolean }) => {
      const { config, print, say } = context();
      const wanted = readRoutes(options.file);
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const topicOf = (name: string): string => names.physical(routeTopic(name).name);
      const result = await withConnections(
        config,
        { kafka: true, database: true },
        async ({ kafka, admin, dataSource }) => {
          const current = await listRoutes(dataSource);
          const planned = planRoutes(current, wanted);
          const present = new Set(await admin.listTopics());
          const missing = new Set(wanted.map((r) => topicOf(r.name)).filter((t) => !present.has(t)));
          if (options.dryRun) return { plan: planned, missing, created: [] as string[] };
          // Topics first: the relay must never hold a route whose topic does not exist yet.
          const { created } = await ensureTopics(
            kafka,
            wanted.map((r) => routeTopic(r.name)),
            names,
          );
          const plan = await applyRoutes(dataSource, wanted);
          return { plan, missing, created };
        },
      );
      if (options.json) {
        print(JSON.stringify({ dryRun: options.dryRun === true, ...result.plan, topicsCreated: result.created }));
        return;
      }
      const lines = planLines(result.plan, topicOf, result.missing);
      for (const line of lines) print(line);
      if (lines.length === 0) print('no routes in the file and none stored: nothing to do');
      const { create, update, delete: deleted } = result.plan;
      if (options.dryRun) {
        say(
          `dry run: ${create.length} to create, ${update.length} to update, ${deleted.length} to delete; ${result.missing.size} topics to create. Nothing was changed.`,
        );
      } else {
        say(
          `routes applied: ${create.length} created, ${update.length} updated, ${deleted.length} deleted; topics created: ${result.created.length ? result.created.join(', ') : 'none'}. fanout applies them within seconds.`,
        );
      }
    });

  routes
    .command('list')
    .description('list the routes with their topics and filters')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { config, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const list = await withConnections(config, { database: true }, ({ dataSource }) => listRoutes(dataSource));
      const shown = list.map((r) => ({ ...r, topic: names.physical(routeTopic(r.name).name) }));
      if (options.json) {
        print(JSON.stringify(shown));
        return;
      }
      if (shown.length === 0) {
        print('no routes: declare some with `asana-stream routes apply --file routes.yaml`');
        return;
      }
      for (const r of shown) {
        print(`${r.name}\t${r.topic}\t${JSON.stringify(r.filter)}\tupdated ${r.updatedAt.toISOString()}`);
      }
    });

  routes
    .command('delete')
    .description(
      'delete one route: fanout stops publishing to its topic within seconds (the topic and what it holds stay)',
    )
    .requiredOption('--name <name>', 'the route')
    .action(async (options: { name: string }) => {
      const { config, print } = context();
      if (!ROUTE_NAME.test(options.name)) throw new CliFailure(`"${options.name}" is not a route's name`);
      const deleted = await withConnections(config, { database: true }, ({ dataSource }) =>
        deleteRoute(dataSource, options.name),
      );
      if (!deleted) throw new CliFailure(`no route named ${options.name} (see \`asana-stream routes list\`)`);
      print(
        `route ${options.name} deleted; its topic stays (delete it with your Kafka tools once its readers are done)`,
      );
    });
}
