import { invalidRequest, SimulatorError, unknownObject } from '../simulator.errors';
import { comment, type StoryDraft } from './story-drafts';
import type { WorkspaceContext } from './workspace-context';
import { compactEvent, nextModifiedAt, storyRef, taskRef } from './workspace-events';
import type { StoryRecord, TaskRecord } from './workspace.records';

export interface CreateCommentInput {
  text?: string;
  htmlText?: string;
}

/**
 * The stories of tasks: the system stories task changes make ("added to Platform", "assigned to
 * Grace", …) and comments. A story is visible while it is not deleted and its task is visible.
 *
 * Only stories that are a change of their own (comments, attachments) record story events. Asana also sends a story `added` event for
 * each system story (contract §2, "other stories"), but every change that makes one already sends
 * its own task event, so the simulator keeps a task change's events as they were: one per change.
 */
export class TaskStories {
  private readonly stories = new Map<string, StoryRecord>();

  constructor(private readonly context: WorkspaceContext) {}

  /** Records a story a change of `task` made at `at`, without events (see the class comment). */
  record(task: TaskRecord, draft: StoryDraft, at: number, actorGid: string | null): StoryRecord {
    const story: StoryRecord = {
      gid: this.context.gids.next(),
      taskGid: task.gid,
      details: draft.details,
      text: draft.text,
      htmlText: draft.htmlText,
      createdByGid: actorGid,
      createdAt: at,
      deleted: false,
    };
    this.stories.set(story.gid, story);
    task.storyGids.push(story.gid);
    return story;
  }

  /** A story the API can see; deleted, on a trashed task, or unknown: 404, as in Asana. */
  get(gid: string): StoryRecord {
    const story = this.stories.get(gid);
    if (!story || story.deleted || this.context.records.findTask(story.taskGid)?.deleted !== false) {
      throw unknownObject(gid);
    }
    return story;
  }

  find(gid: string): StoryRecord | undefined {
    return this.stories.get(gid);
  }

  /** Every story ever recorded on a visible task, in order, deleted ones included (for stable list offsets). */
  history(taskGid: string): StoryRecord[] {
    return this.context.records.getTask(taskGid).storyGids.map((gid) => this.stories.get(gid) as StoryRecord);
  }

  /**
   * Adds a comment (`POST /tasks/{gid}/stories`) and records its `added` event with the task as
   * parent. A new story changes the task's `modified_at` (the spec's TaskBase.modified_at), but
   * neither the spec nor the contract documents a task `changed` event for it, so none is recorded.
   */
  addComment(taskGid: string, input: CreateCommentInput, actorGid: string | null): StoryRecord {
    const task = this.context.records.getTask(taskGid);
    if (input.text !== undefined && input.htmlText !== undefined) {
      throw invalidRequest('text: Cannot be used with html_text');
    }
    const draft = comment(input);
    if (draft.text.trim() === '') throw invalidRequest('text: Missing input');
    return this.announce(task, draft, actorGid);
  }

  /**
   * Records a story that is a change of its own (a comment, an attachment), now: it moves the
   * task's `modified_at` and records the story's `added` event, parent the task.
   */
  announce(task: TaskRecord, draft: StoryDraft, actorGid: string | null): StoryRecord {
    task.modifiedAt = nextModifiedAt(this.context.clock, task.modifiedAt);
    const story = this.record(task, draft, task.modifiedAt, actorGid);
    this.context.events.record(
      [compactEvent(story.createdAt, actorGid, 'added', storyRef(story), taskRef(task))],
      [story.gid, ...this.context.records.watchersOf(task)],
    );
    return story;
  }

  /**
   * Deletes a comment of the acting user (the spec: "A user can only delete stories they have
   * created"; system stories cannot be deleted in Asana's UI, so not here either). Asana lists
   * `removed`, not `deleted`, among a comment's events; its parent is the task, whose
   * `modified_at` moves ("story is trashed on a task").
   */
  delete(gid: string, actorGid: string | null): void {
    const story = this.get(gid);
    if (story.details.subtype !== 'comment_added' || story.createdByGid !== actorGid) {
      throw new SimulatorError('FORBIDDEN', 'You can only delete comments you have created');
    }
    const task = this.context.records.getTask(story.taskGid);
    story.deleted = true;
    task.modifiedAt = nextModifiedAt(this.context.clock, task.modifiedAt);
    this.context.events.record(
      [compactEvent(task.modifiedAt, actorGid, 'removed', storyRef(story), taskRef(task))],
      [story.gid, ...this.context.records.watchersOf(task)],
    );
  }
}
