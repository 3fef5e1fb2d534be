import { CompactRefs, iso, withCompactRefs } from './compact-refs';
import { selectFields, type FieldTree, type JsonObject } from './opt-fields';
import type { TagRecord } from './workspace.records';
import type { WorkspaceService } from './workspace.service';

/** `GET /tags/{gid}` without opt_fields: the full record (TagResponse). */
const TAG_DEFAULT = withCompactRefs(
  ['resource_type', 'name', 'color', 'notes', 'created_at', 'followers', 'permalink_url'],
  ['followers', 'workspace'],
);

/** Renders tags as Asana's API does (see `ResourcePresenter` for how fields are picked). */
export class TagPresenter {
  private readonly refs: CompactRefs;

  constructor(records: WorkspaceService) {
    this.refs = new CompactRefs(records);
  }

  tag(tag: TagRecord, fields: FieldTree = TAG_DEFAULT): JsonObject {
    return selectFields(
      {
        gid: tag.gid,
        resource_type: 'tag',
        name: tag.name,
        color: tag.color,
        notes: tag.notes,
        created_at: iso(tag.createdAt),
        followers: [],
        workspace: this.refs.workspace(),
        permalink_url: `https://app.asana.com/0/${tag.gid}/list`,
      },
      fields,
    );
  }
}
