import type { Clock } from '../clock';
import type { GidSequence } from '../gid-sequence';
import type { WorkspaceEvents } from './workspace-events';
import type { ProjectRecord, TaskRecord, UserRecord, WorkspaceRecord } from './workspace.records';

/** The tasks, projects and users the other parts of the model hang from, as `WorkspaceService` serves them. */
export interface WorkspaceLookup {
  readonly workspace: WorkspaceRecord;
  /** A task the API can see; 404 when unknown or in the trash. */
  getTask(gid: string): TaskRecord;
  /** A project the API can see; 404 when unknown or in the trash. */
  getProject(gid: string): ProjectRecord;
  findTask(gid: string): TaskRecord | undefined;
  findProject(gid: string): ProjectRecord | undefined;
  findUser(gid: string): UserRecord | undefined;
  /** Whose webhooks the task's events reach: the task, its parent tasks, and their projects. */
  watchersOf(task: TaskRecord): string[];
}

/**
 * What each part of the workspace model (sections, stories, tags, attachments) shares with the
 * whole: one clock, one gid sequence and one event record, so gids and events keep a single order.
 */
export interface WorkspaceContext {
  clock: Clock;
  gids: GidSequence;
  events: WorkspaceEvents;
  records: WorkspaceLookup;
}
