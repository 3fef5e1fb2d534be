import type { Command } from 'commander';
import { requestResync, requestSweep } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';
import { parseSince } from './parse-since';

const GID = /^\d{1,32}$/;

/**
 * `asana-stream reconcile --resource GID [--since T]`: asks the enricher for a full resync of a
 * watched resource, or with `--since` for a light sweep of what Asana modified since T.
 */
export function registerReconcileCommand(program: Command, context: () => CliContext): void {
  program
    .command('reconcile')
    .description(
      'ask for a resync of a watched resource: the enricher lists it in Asana, compares with Postgres and sends every correction (missing, stale, vanished) through the pipeline; with --since, only a light sweep of the tasks Asana modified since then (missing and stale; deleted tasks need the full resync). Progress in `status`',
    )
    .requiredOption('--resource <gid>', 'the watched resource (a project gid)')
    .option(
      '--since <time>',
      'sweep only what Asana modified since then: an ISO time (2026-11-30T06:00:00Z) or a duration back from now (90s, 45m, 6h, 2d, 1h30m)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { resource: string; since?: string; json?: boolean }) => {
      if (!GID.test(options.resource))
        throw new CliFailure(`--resource takes an Asana gid (digits), got "${options.resource}"`);
      const since = options.since === undefined ? undefined : parseSince(options.since, new Date());
      const { config, print } = context();
      const watched = await withConnections(config, { database: true }, async ({ dataSource }) => {
        const [{ active }] = await dataSource.query<{ active: boolean }[]>(
          /* sql */ `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE resource_gid = $1 AND status = 'active') AS active`,
          [options.resource],
        );
        if (since) await requestSweep(dataSource, options.resource, since);
        else await requestResync(dataSource, options.resource, 'asked for by an operator (asana-stream reconcile)');
        return active;
      });
      if (options.json) {
        print(
          JSON.stringify({
            resource: options.resource,
            requested: true,
            kind: since ? 'sweep' : 'full',
            ...(since ? { since: since.toISOString() } : {}),
            watched,
          }),
        );
        return;
      }
      if (since) {
        print(
          watched
            ? `sweep of ${options.resource} from ${since.toISOString()} asked for: the enricher lists what Asana modified since then and repairs what Postgres lacks (see \`asana-stream status\`)`
            : `sweep of ${options.resource} from ${since.toISOString()} asked for, but no active subscription watches it: it runs once one does`,
        );
        return;
      }
      print(
        watched
          ? `resync of ${options.resource} asked for: the enricher runs it next (see \`asana-stream status\`)`
          : `resync of ${options.resource} asked for, but no active subscription watches it: it runs once one does (\`asana-stream webhooks create --resource ${options.resource}\`)`,
      );
    });
}
