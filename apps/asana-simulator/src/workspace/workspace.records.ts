import type { AsanaEvent } from '@asana-stream/asana';

/*
 * The simulator's in-memory copy of an Asana workspace. Times are epoch milliseconds; the
 * presenter renders them as ISO-8601 with milliseconds, as Asana does.
 */

export interface WorkspaceRecord {
  gid: string;
  name: string;
  emailDomains: string[];
}

export interface TeamRecord {
  gid: string;
  name: string;
}

export interface UserRecord {
  gid: string;
  name: string;
  email: string;
}

/** Each project has one section ("Untitled section"), as a new Asana project does. */
export interface SectionRecord {
  gid: string;
  name: string;
}

export interface ProjectRecord {
  gid: string;
  name: string;
  notes: string;
  archived: boolean;
  color: string | null;
  ownerGid: string | null;
  teamGid: string;
  section: SectionRecord;
  createdAt: number;
  modifiedAt: number;
  /** In the trash: the API answers 404, but it can be undeleted. */
  deleted: boolean;
  /** Every task ever added, in order, trashed ones included, so list offsets stay stable. */
  taskGids: string[];
}

export interface TaskRecord {
  gid: string;
  name: string;
  notes: string;
  completed: boolean;
  completedAt: number | null;
  completedByGid: string | null;
  assigneeGid: string | null;
  createdByGid: string | null;
  projectGids: string[];
  createdAt: number;
  modifiedAt: number;
  deleted: boolean;
}

/** One event as Asana would deliver it, and the gids whose webhooks it reaches. */
export interface RecordedEvent {
  event: AsanaEvent;
  /**
   * The resource itself plus its containers: a task's projects, a project's workspace. Task
   * events leave the workspace out because Asana never sends them to workspace webhooks.
   */
  watchers: readonly string[];
}

export type WorkspaceEventListener = (events: readonly RecordedEvent[]) => void;
