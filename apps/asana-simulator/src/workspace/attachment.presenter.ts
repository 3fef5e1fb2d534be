import { CompactRefs, iso, withCompactRefs } from './compact-refs';
import { selectFields, type FieldTree, type JsonObject } from './opt-fields';
import type { AttachmentRecord, TaskRecord } from './workspace.records';
import type { WorkspaceService } from './workspace.service';

/**
 * `GET /attachments/{gid}` without opt_fields: the full record (AttachmentResponse). `size` is
 * only for files hosted by Asana, which the simulator does not keep.
 */
const ATTACHMENT_DEFAULT = withCompactRefs(
  [
    'resource_type',
    'name',
    'resource_subtype',
    'created_at',
    'download_url',
    'permanent_url',
    'host',
    'view_url',
    'connected_to_app',
    'parent.resource_subtype',
  ],
  ['parent'],
);

/** Renders attachments as Asana's API does (see `ResourcePresenter` for how fields are picked). */
export class AttachmentPresenter {
  private readonly refs: CompactRefs;

  constructor(private readonly records: WorkspaceService) {
    this.refs = new CompactRefs(records);
  }

  attachment(attachment: AttachmentRecord, fields: FieldTree = ATTACHMENT_DEFAULT): JsonObject {
    return selectFields(
      {
        gid: attachment.gid,
        resource_type: 'attachment',
        name: attachment.name,
        resource_subtype: 'external',
        created_at: iso(attachment.createdAt),
        download_url: attachment.url,
        permanent_url: `https://app.asana.com/app/asana/-/get_asset?asset_id=${attachment.gid}`,
        host: 'external',
        parent: this.refs.task(this.records.findTask(attachment.taskGid) as TaskRecord),
        view_url: attachment.url,
        // "Only present when the resource_subtype is external or gdrive."
        connected_to_app: false,
      },
      fields,
    );
  }
}
