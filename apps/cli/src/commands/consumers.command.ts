import type { Command } from 'commander';
import { ROUTE_NAME } from '@asana-stream/contracts';
import {
  CONSUMER_NAME,
  createEventsApiConsumer,
  deleteEventsApiConsumer,
  listEventsApiConsumers,
} from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

const TYPE = /^[a-z][a-z_]{0,39}$/;

function parseTypes(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const types = [...new Set(text.split(',').map((t) => t.trim()))];
  const bad = types.filter((t) => !TYPE.test(t));
  if (types.length === 0 || bad.length > 0) {
    throw new CliFailure(`--types takes resource types separated by commas (task,project), got "${text}"`);
  }
  return types;
}

function parseRoutes(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const routes = [...new Set(text.split(',').map((r) => r.trim()))];
  const bad = routes.filter((r) => !ROUTE_NAME.test(r));
  if (routes.length === 0 || bad.length > 0) {
    throw new CliFailure(`--routes takes route names separated by commas (billing-tasks,ops), got "${text}"`);
  }
  return routes;
}

function checkName(name: string): string {
  if (!CONSUMER_NAME.test(name)) {
    throw new CliFailure(
      `a consumer's name is 1 to 63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit; got "${name}"`,
    );
  }
  return name;
}

/**
 * `asana-stream consumers create|list|delete`: who may read the Events API (fanout's
 * `GET /events`). A token is printed once, at creation; only its hash is kept.
 */
export function registerConsumersCommands(program: Command, context: () => CliContext): void {
  const consumers = program
    .command('consumers')
    .description("manage who may read the Events API (fanout's GET /events and /events/stream)");

  consumers
    .command('create')
    .description('create a consumer and print its token (shown only now: store it in your secret store)')
    .requiredOption('--name <name>', 'who reads: a team or service, e.g. billing-sync')
    .option('--types <types>', 'resource types it may read, comma-separated (default: all)')
    .option(
      '--routes <routes>',
      'routes it may read, comma-separated: it then reads only with GET /events?route=<one of them> (default: not limited)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { name: string; types?: string; routes?: string; json?: boolean }) => {
      const { config, print, say } = context();
      const name = checkName(options.name);
      const types = parseTypes(options.types);
      const routes = parseRoutes(options.routes);
      const created = await withConnections(config, { database: true }, async ({ dataSource }) => {
        const existing = await listEventsApiConsumers(dataSource);
        if (existing.some((c) => c.name === name)) {
          throw new CliFailure(
            `a consumer named ${name} exists: delete it first (\`asana-stream consumers delete --name ${name}\`) to give it a new token`,
          );
        }
        return createEventsApiConsumer(dataSource, name, types, routes);
      });
      if (options.json) {
        print(JSON.stringify({ name, types, routes, token: created.token }));
        return;
      }
      const only = routes ? `, only with route=${routes.join(' or route=')}` : '';
      say(
        `consumer ${name} created; it may read ${types ? types.join(', ') : 'every type'}${only}. Its token (shown once):`,
      );
      print(created.token);
      say(`read with: curl -H "Authorization: Bearer <token>" "<fanout>/events?wait=30"`);
    });

  consumers
    .command('list')
    .description('list the consumers (never their tokens)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { config, print } = context();
      const list = await withConnections(config, { database: true }, ({ dataSource }) =>
        listEventsApiConsumers(dataSource),
      );
      if (options.json) {
        print(JSON.stringify(list));
        return;
      }
      if (list.length === 0) {
        print('no consumers: create one with `asana-stream consumers create --name <team>`');
        return;
      }
      for (const c of list) {
        const used = c.lastUsedAt ? `last used ${c.lastUsedAt.toISOString()}` : 'never used';
        print(
          `${c.name}\ttypes: ${c.types ? c.types.join(',') : 'all'}\troutes: ${c.routes ? c.routes.join(',') : 'any'}\tcreated ${c.createdAt.toISOString()}\t${used}`,
        );
      }
    });

  consumers
    .command('delete')
    .description("delete a consumer: its token stops working within seconds (the API's cache)")
    .requiredOption('--name <name>', 'the consumer')
    .action(async (options: { name: string }) => {
      const { config, print } = context();
      const name = checkName(options.name);
      const deleted = await withConnections(config, { database: true }, ({ dataSource }) =>
        deleteEventsApiConsumer(dataSource, name),
      );
      if (!deleted) throw new CliFailure(`no consumer named ${name} (see \`asana-stream consumers list\`)`);
      print(`consumer ${name} deleted`);
    });
}
