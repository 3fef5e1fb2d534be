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

/** A section of one project; every project starts with "Untitled section", as a new Asana project does. */
export interface SectionRecord {
  gid: string;
  name: string;
  projectGid: string;
  createdAt: number;
  deleted: boolean;
}

export interface ProjectRecord {
  gid: string;
  name: string;
  notes: string;
  archived: boolean;
  color: string | null;
  ownerGid: string | null;
  teamGid: string;
  /** Its sections in the project's order, deleted ones included (hidden), like `taskGids`. */
  sectionGids: string[];
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
  /** The task this is a subtask of (`POST /tasks/{gid}/subtasks`); absent for a top-level task. */
  parentGid?: string;
  /** Every subtask ever made under the task, in order, deleted ones included (hidden). */
  subtaskGids?: string[];
  /** The section the task sits in, per project gid (its `memberships`). */
  sectionByProject: Record<string, string>;
  /** Every story ever recorded on the task, in order, deleted ones included (hidden). */
  storyGids: string[];
  createdAt: number;
  modifiedAt: number;
  deleted: boolean;
}

/**
 * What a story records, by `resource_subtype`, with the conditional fields Asana shows for it.
 * Only the subtypes the simulator's own changes make.
 */
export type StoryDetails =
  | { subtype: 'comment_added' }
  | { subtype: 'added_to_project'; projectGid: string }
  | { subtype: 'name_changed'; oldName: string; newName: string }
  | { subtype: 'notes_changed' }
  | { subtype: 'assigned'; assigneeGid: string }
  | { subtype: 'unassigned' }
  | { subtype: 'marked_complete' }
  | { subtype: 'marked_incomplete' }
  | { subtype: 'attachment_added' };

/** A story on a task: a comment, or a system story a change of the task made. */
export interface StoryRecord {
  gid: string;
  taskGid: string;
  details: StoryDetails;
  /** Human-readable, without the creator's name; fixed when made, as Asana's is. */
  text: string;
  htmlText: string;
  /** null for a change made by the system (a rule), like the event's `user`. */
  createdByGid: string | null;
  createdAt: number;
  deleted: boolean;
}

export const TAG_COLORS = [
  'dark-pink',
  'dark-green',
  'dark-blue',
  'dark-red',
  'dark-teal',
  'dark-brown',
  'dark-orange',
  'dark-purple',
  'dark-warm-gray',
  'light-pink',
  'light-green',
  'light-blue',
  'light-red',
  'light-teal',
  'light-brown',
  'light-orange',
  'light-purple',
  'light-warm-gray',
] as const;
export type TagColor = (typeof TAG_COLORS)[number];

export interface TagRecord {
  gid: string;
  name: string;
  color: TagColor | null;
  notes: string;
  createdAt: number;
  deleted: boolean;
}

/** A link attached to a task (Asana's `external` attachment: a URL, no uploaded bytes). */
export interface AttachmentRecord {
  gid: string;
  name: string;
  url: string;
  taskGid: string;
  createdAt: number;
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
