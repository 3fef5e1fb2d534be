import { RESYNCED_RESOURCE_TYPES } from '@asana-stream/db';
import { resyncKindFor, sweepKindFor, type ResyncKind, type SweepKind } from './resync-dispatch';

/** Every type Asana lets a webhook watch (createWebhook's `resource`), and none known. */
const CASES: [string | null, ResyncKind, SweepKind][] = [
  ['project', 'project', 'project-tasks-modified'],
  ['task', 'task', 'task-itself'],
  ['workspace', 'workspace', 'none'],
  ['portfolio', 'none', 'none'],
  ['team', 'none', 'none'],
  ['goal', 'none', 'none'],
  ['tag', 'none', 'none'],
  ['section', 'none', 'none'],
  ['user', 'none', 'none'],
  ['custom_field', 'none', 'none'],
  ['constructor', 'none', 'none'],
  // A subscription made before types were kept, with no webhook to ask: as every resource was before.
  [null, 'project', 'project-tasks-modified'],
];

describe('resyncKindFor and sweepKindFor', () => {
  it.each(CASES)('a %s resource is resynced as %s and swept as %s', (type, resync, sweep) => {
    expect(resyncKindFor(type)).toBe(resync);
    expect(sweepKindFor(type)).toBe(sweep);
  });

  it('resyncs exactly the types asana-stream status counts as resynced', () => {
    for (const [type] of CASES) {
      if (type !== null)
        expect({ type, resynced: resyncKindFor(type) !== 'none' }).toEqual({
          type,
          resynced: RESYNCED_RESOURCE_TYPES.includes(type),
        });
    }
  });

  it('sweeps only what it resyncs', () => {
    for (const [type] of CASES) {
      if (resyncKindFor(type) === 'none') expect(sweepKindFor(type)).toBe('none');
    }
  });
});
