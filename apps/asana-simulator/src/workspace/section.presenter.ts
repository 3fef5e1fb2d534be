import { COMPACT, CompactRefs, iso, withCompactRefs } from './compact-refs';
import { selectFields, type FieldTree, type JsonObject } from './opt-fields';
import type { ProjectRecord, SectionRecord } from './workspace.records';
import type { WorkspaceService } from './workspace.service';

/** `GET /sections/{gid}` without opt_fields: the full record (SectionResponse). */
const SECTION_DEFAULT = withCompactRefs(['resource_type', 'name', 'created_at'], ['project', 'projects']);

/** Renders sections as Asana's API does (see `ResourcePresenter` for how fields are picked). */
export class SectionPresenter {
  private readonly refs: CompactRefs;

  constructor(private readonly records: WorkspaceService) {
    this.refs = new CompactRefs(records);
  }

  section(section: SectionRecord, fields: FieldTree = SECTION_DEFAULT): JsonObject {
    return selectFields(this.expand(section), fields);
  }

  /** A project's section list (SectionCompact). */
  sectionCompact(section: SectionRecord, fields: FieldTree = COMPACT): JsonObject {
    return selectFields(this.expand(section), fields);
  }

  private expand(section: SectionRecord): JsonObject {
    const project = this.refs.project(this.records.findProject(section.projectGid) as ProjectRecord);
    return {
      ...this.refs.section(section),
      created_at: iso(section.createdAt),
      project,
      // Deprecated in the spec ("please use project instead"), still returned.
      projects: [project],
    };
  }
}
