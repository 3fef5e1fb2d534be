import { fieldTree, type FieldTree, type JsonObject } from './opt-fields';
import type { WorkspaceService } from './workspace.service';
import type { ProjectRecord, SectionRecord, TaskRecord } from './workspace.records';

const COMPACT_REF = ['resource_type', 'name'];

/** The compact representation of most resources: gid, resource_type and name. */
export const COMPACT = fieldTree(COMPACT_REF);

/** The nested fields Asana fills in by default: each referenced resource as {gid, resource_type, name}. */
export function withCompactRefs(topLevel: readonly string[], refs: readonly string[]): FieldTree {
  return fieldTree([...topLevel, ...refs.flatMap((ref) => COMPACT_REF.map((field) => `${ref}.${field}`))]);
}

/** A time as Asana writes it: ISO-8601 with milliseconds. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * Resources as they appear inside other resources: every field the simulator knows of them, for
 * `opt_fields` to cut down (`assignee.email`), or the default representation to shrink to compact.
 */
export class CompactRefs {
  constructor(private readonly records: WorkspaceService) {}

  user(gid: string | null): JsonObject | null {
    const user = gid === null ? undefined : this.records.findUser(gid);
    if (!user) return null;
    return { gid: user.gid, resource_type: 'user', name: user.name, email: user.email, photo: null };
  }

  project(project: ProjectRecord): JsonObject {
    return { gid: project.gid, resource_type: 'project', name: project.name };
  }

  task(task: TaskRecord): JsonObject {
    return { gid: task.gid, resource_type: 'task', name: task.name, resource_subtype: 'default_task' };
  }

  section(section: SectionRecord): JsonObject {
    return { gid: section.gid, resource_type: 'section', name: section.name };
  }

  workspace(): JsonObject {
    const { gid, name, emailDomains } = this.records.workspace;
    return { gid, resource_type: 'workspace', name, email_domains: emailDomains, is_organization: true };
  }
}
