import { GidSequence } from '../gid-sequence';
import type { RecordedEvent } from '../workspace/workspace.records';
import { WorkspaceService } from '../workspace/workspace.service';
import { TRAFFIC_KINDS, TrafficService } from './traffic.service';
import { waitFor } from '@asana-stream/testing';

function setup(seed = 1) {
  const workspace = new WorkspaceService({ now: () => Date.now() }, new GidSequence(), {
    users: 3,
    tasksPerProject: 3,
  });
  const events: RecordedEvent[] = [];
  workspace.onEvents((recorded) => events.push(...recorded));
  const traffic = new TrafficService(workspace, { now: () => Date.now() }, seed);
  return { workspace, events, traffic };
}

describe('TrafficService', () => {
  let running: TrafficService[] = [];

  afterEach(() => {
    for (const traffic of running) traffic.onModuleDestroy();
    running = [];
  });

  it('makes every kind of change over enough steps, each recording events', () => {
    const { traffic, events } = setup();
    const kinds = new Set(Array.from({ length: 300 }, () => traffic.step()));
    expect([...kinds].sort()).toEqual([...TRAFFIC_KINDS].sort());
    expect(new Set(events.map((r) => r.event.action))).toEqual(new Set(['added', 'changed', 'deleted', 'undeleted']));
  });

  it('adds comments to tasks and sections to projects, each announced by its "added" event', () => {
    const { traffic, events, workspace } = setup();
    const kinds = Array.from({ length: 300 }, () => traffic.step());
    const added = (type: string) =>
      events.filter((r) => r.event.action === 'added' && r.event.resource.resource_type === type).map((r) => r.event);
    const comments = workspace
      .allTasks()
      .flatMap((task) => task.storyGids.map((gid) => ({ task, story: workspace.stories.find(gid)! })))
      .filter(({ story }) => story.details.subtype === 'comment_added');
    expect(comments).toHaveLength(kinds.filter((kind) => kind === 'comment').length);
    expect(comments.length).toBeGreaterThan(0);
    expect(added('story').map((e) => [e.resource.gid, e.parent?.gid])).toEqual(
      comments.map(({ task, story }) => [story.gid, task.gid]).sort((a, b) => a[0].localeCompare(b[0])),
    );
    const sections = kinds.filter((kind) => kind === 'section').length;
    expect(sections).toBeGreaterThan(0);
    expect(added('section')).toHaveLength(sections);
    for (const event of added('section')) expect(event.parent?.resource_type).toBe('project');
  });

  it('makes the same changes for the same seed', () => {
    const a = setup(42);
    const b = setup(42);
    const stepsA = Array.from({ length: 50 }, () => a.traffic.step());
    const stepsB = Array.from({ length: 50 }, () => b.traffic.step());
    expect(stepsA).toEqual(stepsB);
    expect(a.workspace.allTasks().map((t) => [t.name, t.deleted])).toEqual(
      b.workspace.allTasks().map((t) => [t.name, t.deleted]),
    );
  });

  it('only changes tasks of the seeded projects and names null as the user of some changes', () => {
    const { traffic, events, workspace } = setup();
    for (let i = 0; i < 200; i += 1) traffic.step();
    const seeded = new Set(workspace.seededProjects().map((p) => p.gid));
    for (const { watchers } of events) expect(watchers.some((gid) => seeded.has(gid))).toBe(true);
    expect(events.some((r) => r.event.user === null)).toBe(true);
  });

  it('returns at once and then makes the requested number of changes at the requested rate', async () => {
    const { traffic } = setup();
    running.push(traffic);
    const started = Date.now();
    const run = traffic.start(20, 200);
    expect(run).toMatchObject({ status: 'running', changes: 20, rate_per_second: 200 });
    expect(run.done).toBeLessThan(20);
    const finished = await waitFor(
      'the run to finish',
      () => traffic.get(run.id).status === 'finished' && traffic.get(run.id),
    );
    expect(finished.done).toBe(20);
    expect(Object.values(finished.by_kind).reduce((a, b) => a + b, 0)).toBe(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('rejects a run without a positive change count or rate', () => {
    const { traffic } = setup();
    expect(() => traffic.start(0, 10)).toThrow(/changes/);
    expect(() => traffic.start(10, 0)).toThrow(/ratePerSecond/);
    expect(() => traffic.start('10', 5)).toThrow(/changes/);
  });
});
