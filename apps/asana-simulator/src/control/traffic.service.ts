import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Clock } from '../clock';
import { invalidRequest, unknownObject } from '../simulator.errors';
import type { ProjectRecord, TaskRecord } from '../workspace/workspace.records';
import type { WorkspaceService } from '../workspace/workspace.service';
import { SeededRandom } from './random';

export const TRAFFIC_KINDS = [
  'create',
  'rename',
  'complete',
  'assign',
  'comment',
  'section',
  'delete',
  'undelete',
] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/**
 * How often each kind is picked: task edits most, comments nearly as often, deletes and undeletes
 * rarer, and a new section now and then, as in real use.
 */
const WEIGHTS: Record<TrafficKind, number> = {
  create: 20,
  rename: 25,
  complete: 20,
  assign: 20,
  comment: 15,
  section: 3,
  delete: 8,
  undelete: 7,
};

/** Share of changes made by "the system" (`user: null` in the events), like rules and integrations. */
const SYSTEM_SHARE = 0.1;

const MAX_CHANGES = 1_000_000;
const MAX_RATE = 10_000;

export interface TrafficRun {
  id: string;
  changes: number;
  rate_per_second: number;
  done: number;
  by_kind: Record<TrafficKind, number>;
  status: 'running' | 'finished' | 'failed';
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

interface ActiveRun {
  run: TrafficRun;
  startedAtMs: number;
  timer?: NodeJS.Timeout;
}

/**
 * The demo's traffic source: random changes across the seeded projects at a steady rate (task
 * create, rename, complete, assign, delete, undelete; comments on tasks; new sections), made
 * through the same domain calls as the API so they record the same events.
 */
export class TrafficService implements OnModuleDestroy {
  private readonly logger = new Logger(TrafficService.name);
  private readonly runs = new Map<string, ActiveRun>();
  private readonly random: SeededRandom;
  private nextId = 1;

  constructor(
    private readonly workspace: WorkspaceService,
    private readonly clock: Clock,
    seed: number,
  ) {
    this.random = new SeededRandom(seed);
  }

  /** Starts a run and returns at once; the changes follow at `ratePerSecond`. */
  start(changes: unknown, ratePerSecond: unknown): TrafficRun {
    if (!Number.isInteger(changes) || (changes as number) < 1 || (changes as number) > MAX_CHANGES) {
      throw invalidRequest(`changes: must be an integer from 1 to ${MAX_CHANGES}`);
    }
    if (typeof ratePerSecond !== 'number' || !(ratePerSecond > 0 && ratePerSecond <= MAX_RATE)) {
      throw invalidRequest(`ratePerSecond: must be a number above 0 and at most ${MAX_RATE}`);
    }
    const now = this.clock.now();
    const run: TrafficRun = {
      id: String(this.nextId++),
      changes: changes as number,
      rate_per_second: ratePerSecond,
      done: 0,
      by_kind: Object.fromEntries(TRAFFIC_KINDS.map((kind) => [kind, 0])) as Record<TrafficKind, number>,
      status: 'running',
      started_at: new Date(now).toISOString(),
      finished_at: null,
      error: null,
    };
    const active: ActiveRun = { run, startedAtMs: now };
    this.runs.set(run.id, active);
    this.logger.log({ message: 'traffic started', run: run.id, changes: run.changes, rate: ratePerSecond });
    this.schedule(active);
    return { ...run };
  }

  list(): TrafficRun[] {
    return [...this.runs.values()].map(({ run }) => ({ ...run, by_kind: { ...run.by_kind } }));
  }

  get(id: string): TrafficRun {
    const active = this.runs.get(id);
    if (!active) throw unknownObject(id);
    return { ...active.run, by_kind: { ...active.run.by_kind } };
  }

  /** Makes one random change now and says which kind it was. */
  step(): TrafficKind {
    const live = this.seededTasks((task) => !task.deleted);
    const trashed = this.seededTasks((task) => task.deleted);
    const kind = this.pickKind(live.length > 0, trashed.length > 0);
    const actor = this.random.next() < SYSTEM_SHARE ? null : this.random.pick(this.workspace.allUsers()).gid;
    switch (kind) {
      case 'create': {
        const name = `Generated task ${this.random.int(1_000_000)}`;
        this.workspace.createTask({ name, projects: [this.pickLiveProject().gid] }, actor);
        break;
      }
      case 'rename': {
        const task = this.random.pick(live);
        const base = task.name.replace(/ \(rev \d+\)$/, '');
        this.workspace.updateTask(task.gid, { name: `${base} (rev ${this.random.int(1_000_000)})` }, actor);
        break;
      }
      case 'complete': {
        const task = this.random.pick(live);
        this.workspace.updateTask(task.gid, { completed: !task.completed }, actor);
        break;
      }
      case 'assign': {
        const task = this.random.pick(live);
        const others = this.workspace.allUsers().filter((user) => user.gid !== task.assigneeGid);
        const assignee = task.assigneeGid !== null && this.random.next() < 0.2 ? null : this.random.pick(others).gid;
        this.workspace.updateTask(task.gid, { assignee }, actor);
        break;
      }
      case 'comment': {
        const text = `Generated comment ${this.random.int(1_000_000)}`;
        this.workspace.stories.addComment(this.random.pick(live).gid, { text }, actor);
        break;
      }
      case 'section': {
        const name = `Generated section ${this.random.int(1_000_000)}`;
        this.workspace.sections.create(this.pickLiveProject().gid, { name }, actor);
        break;
      }
      case 'delete':
        this.workspace.deleteTask(this.random.pick(live).gid, actor);
        break;
      case 'undelete':
        this.workspace.undeleteTask(this.random.pick(trashed).gid, actor);
        break;
    }
    return kind;
  }

  onModuleDestroy(): void {
    for (const active of this.runs.values()) clearTimeout(active.timer);
  }

  /** Catches up with every change due by now, then sleeps until the next one is due. */
  private schedule(active: ActiveRun): void {
    const { run } = active;
    const elapsed = this.clock.now() - active.startedAtMs;
    const due = Math.min(run.changes, Math.floor((elapsed * run.rate_per_second) / 1000) + 1);
    try {
      while (run.done < due) {
        run.by_kind[this.step()] += 1;
        run.done += 1;
      }
    } catch (error) {
      run.error = error instanceof Error ? error.message : String(error);
      this.finish(run, 'failed');
      return;
    }
    if (run.done >= run.changes) {
      this.finish(run, 'finished');
      return;
    }
    const nextDueAt = active.startedAtMs + (run.done * 1000) / run.rate_per_second;
    active.timer = setTimeout(() => this.schedule(active), Math.max(1, nextDueAt - this.clock.now()));
  }

  private finish(run: TrafficRun, status: 'finished' | 'failed'): void {
    run.status = status;
    run.finished_at = new Date(this.clock.now()).toISOString();
    this.logger.log({ message: 'traffic ended', run: run.id, status, changes: run.done, error: run.error });
  }

  private pickKind(haveLive: boolean, haveTrashed: boolean): TrafficKind {
    const possible = TRAFFIC_KINDS.filter((kind) => {
      if (kind === 'create' || kind === 'section') {
        return this.workspace.seededProjects().some((project) => !project.deleted);
      }
      if (kind === 'undelete') return haveTrashed;
      return haveLive;
    });
    if (possible.length === 0) throw invalidRequest('nothing left to change: the seeded projects are deleted');
    const total = possible.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
    let roll = this.random.next() * total;
    for (const kind of possible) {
      roll -= WEIGHTS[kind];
      if (roll < 0) return kind;
    }
    return possible[possible.length - 1];
  }

  private pickLiveProject(): ProjectRecord {
    return this.random.pick(this.workspace.seededProjects().filter((project) => !project.deleted));
  }

  private seededTasks(include: (task: TaskRecord) => boolean): TaskRecord[] {
    const seeded = new Set(this.workspace.seededProjects().map((project) => project.gid));
    return this.workspace.allTasks().filter((task) => task.projectGids.some((gid) => seeded.has(gid)) && include(task));
  }
}
