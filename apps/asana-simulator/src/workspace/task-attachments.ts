import { invalidRequest, unknownObject, unrecognizedId } from '../simulator.errors';
import { attachmentAdded } from './story-drafts';
import type { TaskStories } from './task-stories';
import type { WorkspaceContext } from './workspace-context';
import { attachmentRef, compactEvent, nextModifiedAt } from './workspace-events';
import type { AttachmentRecord } from './workspace.records';

export interface CreateAttachmentInput {
  /** The task to attach to. */
  parent?: string;
  name?: string;
  url?: string;
}

/**
 * Links attached to tasks (Asana's `external` attachments). Asana records no event of an
 * attachment being added (its attachment events are `deleted` and `undeleted`); the task gets an
 * `attachment_added` story, whose `added` event announces it. An attachment is visible while it
 * is not deleted and its task is visible.
 */
export class TaskAttachments {
  private readonly attachments = new Map<string, AttachmentRecord>();

  constructor(
    private readonly context: WorkspaceContext,
    private readonly stories: TaskStories,
  ) {}

  /** An attachment the API can see; deleted, on a trashed task, or unknown: 404, as in Asana. */
  get(gid: string): AttachmentRecord {
    const attachment = this.attachments.get(gid);
    if (!attachment || attachment.deleted || this.context.records.findTask(attachment.taskGid)?.deleted !== false) {
      throw unknownObject(gid);
    }
    return attachment;
  }

  /** Attaches a URL to a task, as Asana's `POST /attachments` with `resource_subtype: external` does. */
  create(input: CreateAttachmentInput, actorGid: string | null): AttachmentRecord {
    if (input.parent === undefined) throw invalidRequest('parent: Missing input');
    const task = this.context.records.findTask(input.parent);
    if (!task || task.deleted) throw unrecognizedId('parent', input.parent);
    if (input.name === undefined || input.name === '') throw invalidRequest('name: Missing input');
    if (input.url === undefined || !URL.canParse(input.url)) throw invalidRequest('url: Not a valid URL');
    const attachment: AttachmentRecord = {
      gid: this.context.gids.next(),
      name: input.name,
      url: input.url,
      taskGid: task.gid,
      createdAt: 0,
      deleted: false,
    };
    this.attachments.set(attachment.gid, attachment);
    // In the map before the story's event goes out, so a listener may already fetch it.
    attachment.createdAt = this.stories.announce(task, attachmentAdded(input.name), actorGid).createdAt;
    return attachment;
  }

  /** `DELETE /attachments/{gid}`: `deleted`, no parent; it moves the task's `modified_at` ("attachment is trashed"). */
  delete(gid: string, actorGid: string | null): void {
    const attachment = this.get(gid);
    const task = this.context.records.getTask(attachment.taskGid);
    attachment.deleted = true;
    task.modifiedAt = nextModifiedAt(this.context.clock, task.modifiedAt);
    this.context.events.record(
      [compactEvent(task.modifiedAt, actorGid, 'deleted', attachmentRef(attachment), null)],
      [attachment.gid, ...this.context.records.watchersOf(task)],
    );
  }
}
