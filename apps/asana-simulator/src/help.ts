import { SIMULATOR_CONFIG_PARTS, SIMULATOR_ENV_HELP } from './simulator.config';

const ENDPOINTS = `
Asana API (Authorization: Bearer $SIM_TOKEN), base /api/1.0:
  GET    /users/me  /users/{gid}
  GET    /workspaces  /workspaces/{gid}  /workspaces/{gid}/projects
  GET    /projects?workspace=W   POST /projects
  GET    /projects/{gid}   PUT /projects/{gid}   DELETE /projects/{gid}
  GET    /projects/{gid}/tasks   (limit 1-100, offset, opt_fields, completed_since)
  GET    /tasks?project=P   (modified_since, completed_since, limit 1-100, offset, opt_fields)
  POST   /tasks   GET /tasks/{gid}   PUT /tasks/{gid}   DELETE /tasks/{gid}
  GET    /tasks/{gid}/stories   POST /tasks/{gid}/stories (a comment: {"data":{"text":...}})
  GET    /stories/{gid}   DELETE /stories/{gid} (own comments)
  GET    /projects/{gid}/sections   POST /projects/{gid}/sections ({"data":{"name":...}})
  GET    /sections/{gid}   DELETE /sections/{gid} (empty, not the project's last)
  POST   /tags ({"data":{"name":...,"workspace":W}})   GET /tags/{gid}   DELETE /tags/{gid}
  GET    /attachments/{gid}   DELETE /attachments/{gid}
  GET    /webhooks?workspace=W[&resource=R]   POST /webhooks (handshake inside the call)
  GET    /webhooks/{gid}   PUT /webhooks/{gid} (filters)   DELETE /webhooks/{gid}
  GET    /events?resource=R[&sync=S]   task or project events since S, 100 at a time (has_more);
                                        no S or an expired one: 412 with a new sync token (24 h)
  Every GET but /events takes opt_fields=a,b.c
  Over the rate limits: 429 (Retry-After: seconds; none for too many requests in flight)

Simulator control (no auth):
  POST   /_sim/tasks/{gid}/undelete     restore a trashed task (records "undeleted")
  POST   /_sim/projects/{gid}/undelete  restore a trashed project
  POST   /_sim/attachments              {"parent": TASK, "name": N, "url": U}: attach a link to a task
  GET    /_sim/state                    every project and task, with "deleted"
  GET    /_sim/deliveries[?webhook=G]   delivery counts and the latest attempts
  POST   /_sim/traffic                  {"changes": N, "ratePerSecond": R}: random task changes,
                                        comments and new sections
  GET    /_sim/traffic  /_sim/traffic/{id}   progress of traffic runs
  GET    /_sim/rate-limits              the API's rate limits, admitted and refused requests
  GET    /_sim/rate-limits/in-flight    the most reads and writes one token had in flight at once
  POST   /_sim/events/expire-sync-tokens   every /events sync token answers 412 from now on
  GET    /_sim/faults                   webhook fault rates and how many deliveries they struck
  POST   /_sim/api-failures             {"count": N, "status": 503}: the next N API requests fail;
                                        with "gid": G only those for G; "count": "forever"; 0 cancels
  PUT    /_sim/faults                   {"drop": 0, "duplicate": 0.2, "reorder": 0.2}
  GET    /health, /health/live, /health/ready
`;

/** The `--help` text: every environment variable with its default, then the endpoints. */
export function helpText(): string {
  const lines = Object.values(SIMULATOR_CONFIG_PARTS).flatMap((Part) =>
    Object.entries(new Part()).map(([name, value]) => {
      const description = SIMULATOR_ENV_HELP[name as keyof typeof SIMULATOR_ENV_HELP];
      return `  ${name.padEnd(30)} ${String(value).padEnd(10)} ${description}`;
    }),
  );
  return [
    'asana-simulator: a stand-in for app.asana.com (REST API + webhooks) for tests and the demo.',
    '',
    'Usage: node dist/apps/asana-simulator/src/main.js [--help]',
    '',
    `Environment (${'name'.padEnd(24)} ${'default'.padEnd(10)} meaning):`,
    ...lines,
    ENDPOINTS,
  ].join('\n');
}
