import type { Command } from 'commander';
import { requestResync } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

const GID = /^\d{1,32}$/;

/** `asana-stream reconcile --resource GID`: asks the enricher for a resync of a watched resource. */
export function registerReconcileCommand(program: Command, context: () => CliContext): void {
  program
    .command('reconcile')
    .description(
      'ask for a resync of a watched resource: the enricher lists it in Asana, compares with Postgres and sends every correction through the pipeline (progress in `status`)',
    )
    .requiredOption('--resource <gid>', 'the watched resource (a project gid)')
    .option('--json', 'print JSON')
    .action(async (options: { resource: string; json?: boolean }) => {
      const { config, print } = context();
      if (!GID.test(options.resource))
        throw new CliFailure(`--resource takes an Asana gid (digits), got "${options.resource}"`);
      const watched = await withConnections(config, { database: true }, async ({ dataSource }) => {
        const [{ active }] = await dataSource.query<{ active: boolean }[]>(
          /* sql */ `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE resource_gid = $1 AND status = 'active') AS active`,
          [options.resource],
        );
        await requestResync(dataSource, options.resource, 'asked for by an operator (asana-stream reconcile)');
        return active;
      });
      if (options.json) {
        print(JSON.stringify({ resource: options.resource, requested: true, watched }));
        return;
      }
      print(
        watched
          ? `resync of ${options.resource} asked for: the enricher runs it next (see \`asana-stream status\`)`
          : `resync of ${options.resource} asked for, but no active subscription watches it: it runs once one does (\`asana-stream webhooks create --resource ${options.resource}\`)`,
      );
    });
}
