import { invalidRequest, unknownObject, unrecognizedId } from '../simulator.errors';
import type { WorkspaceContext } from './workspace-context';
import { compactEvent, projectRef, sectionRef } from './workspace-events';
import type { ProjectRecord, SectionRecord } from './workspace.records';

export interface CreateSectionInput {
  name?: string;
  /** A section of the same project to insert before (or after); at the end without either. */
  insertBefore?: string;
  insertAfter?: string;
}

/**
 * The sections of projects. Every project has at least one: it starts with "Untitled section", as
 * a new Asana project does, and the last one cannot be deleted. A section is visible while it is
 * not deleted and its project is visible.
 */
export class ProjectSections {
  private readonly sections = new Map<string, SectionRecord>();

  constructor(private readonly context: WorkspaceContext) {}

  /**
   * The section a new project comes with. It records no event: the project's `added` event
   * announces the project, and whether Asana also sends one for this section is undocumented.
   */
  addDefault(project: ProjectRecord): SectionRecord {
    return this.insert(project, 'Untitled section', project.sectionGids.length);
  }

  /** The section a task added to the project goes to: the first one, as in Asana. */
  first(project: ProjectRecord): SectionRecord {
    return this.history(project).find((section) => !section.deleted) as SectionRecord;
  }

  /** A section the API can see; deleted, in a trashed project, or unknown: 404, as in Asana. */
  get(gid: string): SectionRecord {
    const section = this.sections.get(gid);
    if (!section || section.deleted || this.context.records.findProject(section.projectGid)?.deleted !== false) {
      throw unknownObject(gid);
    }
    return section;
  }

  find(gid: string): SectionRecord | undefined {
    return this.sections.get(gid);
  }

  /** Every section the project ever had, in the project's order, deleted ones included. */
  history(project: ProjectRecord): SectionRecord[] {
    return project.sectionGids.map((gid) => this.sections.get(gid) as SectionRecord);
  }

  /** `POST /projects/{gid}/sections`: records the section's `added` event with the project as parent. */
  create(projectGid: string, input: CreateSectionInput, actorGid: string | null): SectionRecord {
    const project = this.context.records.getProject(projectGid);
    if (input.name === undefined || input.name === '') throw invalidRequest('name: Missing input');
    if (input.insertBefore !== undefined && input.insertAfter !== undefined) {
      throw invalidRequest('insert_before, insert_after: Cannot provide both');
    }
    const index =
      input.insertBefore !== undefined
        ? this.indexIn(project, 'insert_before', input.insertBefore)
        : input.insertAfter !== undefined
          ? this.indexIn(project, 'insert_after', input.insertAfter) + 1
          : project.sectionGids.length;
    const section = this.insert(project, input.name, index);
    this.context.events.record(
      [compactEvent(section.createdAt, actorGid, 'added', sectionRef(section), projectRef(project))],
      [section.gid, project.gid],
    );
    return section;
  }

  /**
   * `DELETE /sections/{gid}`: only an empty section, and never a project's last one (the spec's
   * two rules; their status is undocumented, 400 here). A task in the trash still counts as in its
   * section, so undeleting it always finds the section there.
   */
  delete(gid: string, actorGid: string | null): void {
    const section = this.get(gid);
    const project = this.context.records.getProject(section.projectGid);
    if (this.history(project).filter((other) => !other.deleted).length === 1) {
      throw invalidRequest('The last remaining section of a project cannot be deleted');
    }
    const occupied = project.taskGids.some(
      (taskGid) => this.context.records.findTask(taskGid)?.sectionByProject[project.gid] === gid,
    );
    if (occupied) throw invalidRequest('Sections must be empty to be deleted');
    section.deleted = true;
    this.context.events.record(
      [compactEvent(this.context.clock.now(), actorGid, 'deleted', sectionRef(section), null)],
      [section.gid, project.gid],
    );
  }

  private insert(project: ProjectRecord, name: string, index: number): SectionRecord {
    const section: SectionRecord = {
      gid: this.context.gids.next(),
      name,
      projectGid: project.gid,
      createdAt: this.context.clock.now(),
      deleted: false,
    };
    this.sections.set(section.gid, section);
    project.sectionGids.splice(index, 0, section.gid);
    return section;
  }

  /** Where a section given as `field` sits in the project; 400 unless it is a visible section of it. */
  private indexIn(project: ProjectRecord, field: string, gid: string): number {
    const index = project.sectionGids.indexOf(gid);
    if (index < 0 || this.sections.get(gid)?.deleted !== false) throw unrecognizedId(field, gid);
    return index;
  }
}
