import type { AsanaEvent, AsanaEventChange, AsanaResourceRef } from '@asana-stream/asana';
import type { Clock } from '../clock';
import type {
  AttachmentRecord,
  ProjectRecord,
  SectionRecord,
  StoryRecord,
  TagRecord,
  TaskRecord,
  WorkspaceEventListener,
} from './workspace.records';

/**
 * Where every part of the workspace model records the events of its changes; listeners (webhook
 * deliveries, the Events API) receive them synchronously, in the order the changes happened.
 */
export class WorkspaceEvents {
  private readonly listeners = new Set<WorkspaceEventListener>();

  /** Registers a listener for recorded events; returns its removal. */
  subscribe(listener: WorkspaceEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records events that reach the webhooks of `watchers` (the resource and its containers). */
  record(events: AsanaEvent[], watchers: readonly string[]): void {
    const recorded = events.map((event) => ({ event, watchers }));
    for (const listener of this.listeners) listener(recorded);
  }
}

/** One compact event as Asana delivers it: `created_at` is the change's time, `user` null for the system. */
export function compactEvent(
  at: number,
  actorGid: string | null,
  action: AsanaEvent['action'],
  resource: AsanaResourceRef,
  parent: AsanaResourceRef | null,
  change?: AsanaEventChange,
): AsanaEvent {
  return {
    user: actorGid === null ? null : { gid: actorGid, resource_type: 'user' },
    created_at: new Date(at).toISOString(),
    action,
    resource,
    parent,
    ...(change ? { change } : {}),
  };
}

/**
 * `modified_at` for a mutation now: the clock, or 1 ms past the previous value when the clock
 * has not moved past it, so a resource's versions strictly increase (consumers order by them).
 */
export function nextModifiedAt(clock: Clock, previous: number): number {
  const now = clock.now();
  return now > previous ? now : previous + 1;
}

/*
 * How each resource appears in events: `resource_subtype` where Asana's resource has one (tasks,
 * stories), none otherwise.
 */

export function taskRef(task: TaskRecord): AsanaResourceRef {
  return { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' };
}

export function projectRef(project: ProjectRecord): AsanaResourceRef {
  return { gid: project.gid, resource_type: 'project' };
}

export function storyRef(story: StoryRecord): AsanaResourceRef {
  return { gid: story.gid, resource_type: 'story', resource_subtype: story.details.subtype };
}

export function sectionRef(section: SectionRecord): AsanaResourceRef {
  return { gid: section.gid, resource_type: 'section' };
}

export function tagRef(tag: TagRecord): AsanaResourceRef {
  return { gid: tag.gid, resource_type: 'tag' };
}

export function attachmentRef(attachment: AttachmentRecord): AsanaResourceRef {
  return { gid: attachment.gid, resource_type: 'attachment', resource_subtype: 'external' };
}

/**
 * Whose webhooks a task's events reach: the task, its parent tasks, and the projects of each (a
 * project webhook gets its tasks' and subtasks' events, however deep). Also what its stories' and
 * attachments' events reach besides themselves (a project webhook gets its tasks' comments).
 * Never the workspace: Asana sends no task or story events to workspace webhooks.
 *
 * `findTask` finds a task record whatever its state (a subtask's events still reach the projects
 * of a parent in the trash).
 */
export function taskWatchers(task: TaskRecord, findTask: (gid: string) => TaskRecord | undefined): string[] {
  const watchers = new Set<string>();
  for (let at: TaskRecord | undefined = task; at !== undefined && !watchers.has(at.gid);) {
    watchers.add(at.gid);
    for (const projectGid of at.projectGids) watchers.add(projectGid);
    at = at.parentGid ? findTask(at.parentGid) : undefined;
  }
  return [...watchers];
}
