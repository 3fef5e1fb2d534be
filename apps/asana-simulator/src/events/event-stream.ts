import type { AsanaEvent } from '@asana-stream/asana';
import type { OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import { invalidRequest, SimulatorError, unknownObject } from '../simulator.errors';
import { seesEvent } from '../webhooks/webhook-filters';
import type { RecordedEvent } from '../workspace/workspace.records';
import type { WorkspaceService } from '../workspace/workspace.service';

export interface EventStreamOptions {
  /** Events stay retrievable, and sync tokens valid, this long (Asana: 24 hours). */
  retentionMs: number;
  /** Most events one call returns (Asana: 100). */
  pageSize: number;
  /**
   * Most events kept at once, a bound on memory under heavy traffic: past it the oldest go early,
   * and tokens positioned before them expire early too (Asana: "sooner under load").
   */
  maxEvents: number;
}

export const ASANA_EVENT_STREAM: EventStreamOptions = {
  retentionMs: 24 * 60 * 60 * 1000,
  pageSize: 100,
  maxEvents: 200_000,
};

/** Asana's 412 message (its spec's example for `GET /events`). */
export const SYNC_TOKEN_EXPIRED_MESSAGE =
  'Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full ' +
  'dataset for this query now and use the new sync token for the next sync.';

/** The body of a 200 from `GET /events`. */
export interface EventsPage {
  data: AsanaEvent[];
  sync: string;
  has_more: boolean;
}

/** One recorded event, numbered in the order it happened, with the clock time it was recorded. */
interface LoggedEvent {
  seq: number;
  at: number;
  recorded: RecordedEvent;
}

/**
 * What a sync token stands for: events of `resource` after event number `position`. `positionAt`
 * is the clock time of that position (when a 412 issued the token, when a call caught up, or the
 * last event returned); the token is good while it is younger than the retention.
 */
interface SyncPosition {
  generation: string;
  resource: string;
  position: number;
  positionAt: number;
}

/**
 * Asana's Events API (`GET /events?resource=&sync=`): every recorded event kept for the retention
 * (24 hours of the simulator's clock), and for a task or project the events a webhook on it would
 * receive (`seesEvent`, the webhooks' own definition), 100 at a time from a sync token's position.
 *
 * Tokens are opaque to clients (base64url JSON, like list offsets) and hold all their state, so
 * only the events take memory. A token from another resource, another run of the simulator or
 * before `expireAllTokens()` is unknown; one whose position is older than the retention, or before
 * events dropped for `maxEvents`, is expired. Both answer 412 with a new token marking "now".
 */
export class EventStream implements OnModuleDestroy {
  /** Retained events, oldest first, from index `head` on (dropping moves `head`; compacted in bulk). */
  private log: LoggedEvent[] = [];
  private head = 0;
  private lastSeq = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  /** The number of the newest event dropped so far (0: none). */
  private droppedThrough = 0;
  private generation = newGeneration();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly workspace: WorkspaceService,
    private readonly clock: Clock,
    private readonly options: EventStreamOptions = ASANA_EVENT_STREAM,
  ) {
    this.unsubscribe = workspace.onEvents((events) => this.append(events));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /**
   * One call of `GET /events`: the events of `resource` since the token's position, or a 412
   * carrying a new token when there is no token or it is unknown or expired.
   */
  read(resource: unknown, sync: unknown): EventsPage {
    const resourceGid = this.checkResource(resource);
    const now = this.clock.now();
    this.prune(now);
    const from = typeof sync === 'string' ? this.decode(sync, resourceGid, now) : undefined;
    if (from === undefined) {
      const fresh = this.encode({
        generation: this.generation,
        resource: resourceGid,
        position: this.lastSeq,
        positionAt: now,
      });
      throw new SimulatorError('SYNC_TOKEN_EXPIRED', SYNC_TOKEN_EXPIRED_MESSAGE, { body: { sync: fresh } });
    }
    const data: AsanaEvent[] = [];
    let last: LoggedEvent | undefined;
    let hasMore = false;
    const start = this.head + Math.max(0, from.position + 1 - this.firstSeq());
    for (let i = start; i < this.log.length; i += 1) {
      const entry = this.log[i];
      if (!seesEvent(entry.recorded, resourceGid)) continue;
      if (data.length === this.options.pageSize) {
        hasMore = true;
        break;
      }
      data.push(entry.recorded.event);
      last = entry;
    }
    const next: SyncPosition = hasMore
      ? { ...from, position: (last as LoggedEvent).seq, positionAt: (last as LoggedEvent).at }
      : { ...from, position: this.lastSeq, positionAt: Math.max(now, from.positionAt) };
    return { data, sync: this.encode(next), has_more: hasMore };
  }

  /** Makes every sync token handed out so far unknown: their next call answers 412 (for tests). */
  expireAllTokens(): void {
    this.generation = newGeneration();
  }

  /** How many events are kept, and the oldest one's number (for tests and `/_sim`). */
  retained(): { events: number; oldestSeq: number | null } {
    const events = this.log.length - this.head;
    return { events, oldestSeq: events === 0 ? null : this.firstSeq() };
  }

  private append(events: readonly RecordedEvent[]): void {
    // Never behind the previous event, so positions and times go up together.
    const at = Math.max(this.clock.now(), this.lastAt);
    this.lastAt = at;
    for (const recorded of events) {
      this.lastSeq += 1;
      this.log.push({ seq: this.lastSeq, at, recorded });
    }
    this.prune(at);
  }

  /** Drops events older than the retention, and the oldest past `maxEvents`. */
  private prune(now: number): void {
    const cutoff = now - this.options.retentionMs;
    let head = this.head;
    while (head < this.log.length && (this.log[head].at <= cutoff || this.log.length - head > this.options.maxEvents)) {
      this.droppedThrough = this.log[head].seq;
      head += 1;
    }
    this.head = head;
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
  }

  private firstSeq(): number {
    return this.head < this.log.length ? this.log[this.head].seq : this.lastSeq + 1;
  }

  /** The gid of a resource the Events API serves (a task or project, not in the trash), or why not. */
  private checkResource(resource: unknown): string {
    if (resource === undefined || resource === '') throw invalidRequest('resource: Missing input');
    if (typeof resource !== 'string') throw invalidRequest('resource: Value is not a string');
    const described = this.workspace.describeResource(resource);
    if (described?.resource_type === 'task' || described?.resource_type === 'project') return resource;
    const otherType =
      described?.resource_type ??
      (this.workspace.findUser(resource) ? 'user' : resource === this.workspace.team.gid ? 'team' : undefined);
    if (otherType !== undefined) {
      throw invalidRequest(`resource: Events are available for tasks, projects and goals, not a ${otherType}`);
    }
    // Unknown, or a task or project in the trash: 404 as for any other read.
    throw unknownObject(resource);
  }

  private encode(position: SyncPosition): string {
    const { generation, resource, position: seq, positionAt } = position;
    return Buffer.from(JSON.stringify([generation, resource, seq, positionAt])).toString('base64url');
  }

  /** The position a token stands for, or undefined when it is unknown or expired. */
  private decode(sync: string, resourceGid: string, now: number): SyncPosition | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(sync, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!Array.isArray(parsed) || parsed.length !== 4) return undefined;
    const [generation, resource, position, positionAt] = parsed as unknown[];
    if (generation !== this.generation || resource !== resourceGid) return undefined;
    if (!Number.isInteger(position) || (position as number) < 0 || (position as number) > this.lastSeq) {
      return undefined;
    }
    if (typeof positionAt !== 'number' || !Number.isFinite(positionAt)) return undefined;
    // Expired: older than the retention, or events after the position are gone.
    if (now - positionAt >= this.options.retentionMs || (position as number) < this.droppedThrough) return undefined;
    return { generation, resource, position: position as number, positionAt };
  }
}

function newGeneration(): string {
  return randomBytes(6).toString('hex');
}
