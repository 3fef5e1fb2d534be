import { CompactRefs, iso, withCompactRefs } from './compact-refs';
import { selectFields, type FieldTree, type JsonObject } from './opt-fields';
import type { ProjectRecord, StoryRecord, TaskRecord } from './workspace.records';
import type { WorkspaceService } from './workspace.service';

/**
 * `GET /stories/{gid}` without opt_fields: the full record (StoryResponse) but the "[Opt In]"
 * `html_text`. Conditional fields appear only on the subtypes that have them.
 */
const STORY_DEFAULT = withCompactRefs(
  [
    'resource_type',
    'created_at',
    'resource_subtype',
    'text',
    'type',
    'is_editable',
    'is_edited',
    'is_pinned',
    'hearted',
    'hearts',
    'num_hearts',
    'liked',
    'likes',
    'num_likes',
    'previews',
    'reaction_summary',
    'source',
    'old_name',
    'new_name',
    'target.resource_subtype',
  ],
  ['created_by', 'assignee', 'project', 'target'],
);

/** A task's story list (StoryCompact). */
const STORY_COMPACT = withCompactRefs(['resource_type', 'created_at', 'resource_subtype', 'text'], ['created_by']);

/** Renders stories as Asana's API does (see `ResourcePresenter` for how fields are picked). */
export class StoryPresenter {
  private readonly refs: CompactRefs;

  constructor(private readonly records: WorkspaceService) {
    this.refs = new CompactRefs(records);
  }

  story(story: StoryRecord, fields: FieldTree = STORY_DEFAULT): JsonObject {
    return selectFields(this.expand(story), fields);
  }

  storyCompact(story: StoryRecord, fields: FieldTree = STORY_COMPACT): JsonObject {
    return selectFields(this.expand(story), fields);
  }

  private expand(story: StoryRecord): JsonObject {
    const isComment = story.details.subtype === 'comment_added';
    return {
      gid: story.gid,
      resource_type: 'story',
      created_at: iso(story.createdAt),
      // null for a change made by the system, as the event's `user` is.
      created_by: this.refs.user(story.createdByGid),
      resource_subtype: story.details.subtype,
      text: story.text,
      html_text: story.htmlText,
      type: isComment ? 'comment' : 'system',
      // "Conditional": what only comments have.
      ...(isComment
        ? {
            is_editable: story.createdByGid === this.records.me().gid,
            is_edited: false,
            is_pinned: false,
            hearted: false,
            hearts: [],
            num_hearts: 0,
            liked: false,
            likes: [],
            num_likes: 0,
            previews: [],
          }
        : {}),
      reaction_summary: [],
      source: 'api',
      target: this.refs.task(this.records.findTask(story.taskGid) as TaskRecord),
      ...this.conditionalFields(story),
    };
  }

  /** The fields a system story of its subtype carries: the old and new name, the assignee, the project. */
  private conditionalFields({ details }: StoryRecord): JsonObject {
    switch (details.subtype) {
      case 'name_changed':
        return { old_name: details.oldName, new_name: details.newName };
      case 'assigned':
        return { assignee: this.refs.user(details.assigneeGid) };
      case 'added_to_project':
        return { project: this.refs.project(this.records.findProject(details.projectGid) as ProjectRecord) };
      default:
        return {};
    }
  }
}
