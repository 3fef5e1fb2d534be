import { invalidRequest, unknownObject, unrecognizedId } from '../simulator.errors';
import type { WorkspaceContext } from './workspace-context';
import { compactEvent, tagRef } from './workspace-events';
import { TAG_COLORS, type TagColor, type TagRecord } from './workspace.records';

export interface CreateTagInput {
  name?: string;
  color?: string | null;
  notes?: string;
  workspace?: string;
}

/**
 * The workspace's tags. Their events reach the tag and the workspace, where a tag lives (Asana
 * lists tag events but documents neither their parent nor who receives them): `added` with the
 * workspace as parent, `deleted` with none.
 */
export class WorkspaceTags {
  private readonly tags = new Map<string, TagRecord>();

  constructor(private readonly context: WorkspaceContext) {}

  /** A tag the API can see; deleted or unknown: 404, as in Asana. */
  get(gid: string): TagRecord {
    const tag = this.tags.get(gid);
    if (!tag || tag.deleted) throw unknownObject(gid);
    return tag;
  }

  /** `POST /tags`: every tag belongs to a workspace, which the request must name (the spec). */
  create(input: CreateTagInput, actorGid: string | null): TagRecord {
    const workspace = this.context.records.workspace;
    if (input.workspace === undefined) throw invalidRequest('workspace: Missing input');
    if (input.workspace !== workspace.gid) throw unrecognizedId('workspace', input.workspace);
    const tag: TagRecord = {
      gid: this.context.gids.next(),
      name: input.name ?? '',
      color: readColor(input.color),
      notes: input.notes ?? '',
      createdAt: this.context.clock.now(),
      deleted: false,
    };
    this.tags.set(tag.gid, tag);
    this.context.events.record(
      [
        compactEvent(tag.createdAt, actorGid, 'added', tagRef(tag), {
          gid: workspace.gid,
          resource_type: 'workspace',
        }),
      ],
      [tag.gid, workspace.gid],
    );
    return tag;
  }

  delete(gid: string, actorGid: string | null): void {
    const tag = this.get(gid);
    tag.deleted = true;
    this.context.events.record(
      [compactEvent(this.context.clock.now(), actorGid, 'deleted', tagRef(tag), null)],
      [tag.gid, this.context.records.workspace.gid],
    );
  }
}

function readColor(color: string | null | undefined): TagColor | null {
  if (color === undefined || color === null) return null;
  if (!(TAG_COLORS as readonly string[]).includes(color)) {
    throw invalidRequest(`color: Invalid value ${JSON.stringify(color)}, expected one of ${TAG_COLORS.join(', ')}`);
  }
  return color as TagColor;
}
