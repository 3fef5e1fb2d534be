import { Body, Controller, Delete, Get, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { invalidRequest, unrecognizedId } from '../simulator.errors';
import { ResourcePresenter } from '../workspace/resource.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { listResponse } from './list-response';
import { optionalBoolean, optionalNullableString, optionalString, readData, readOptFields } from './request-body';

/** Projects: list, read, create, update, delete, and a project's tasks. */
@Controller('api/1.0/projects')
export class ProjectsController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: ResourcePresenter,
  ) {}

  /** `GET /projects?workspace=W` (or `team=T`): compact projects, paginated. */
  @Get()
  list(@Req() request: Request, @Query() query: Record<string, unknown>) {
    const { workspace, team } = query;
    if (typeof workspace !== 'string' && typeof team !== 'string') throw invalidRequest('workspace: Missing input');
    if (typeof workspace === 'string' && workspace !== this.workspace.workspace.gid) {
      throw unrecognizedId('workspace', workspace);
    }
    if (typeof team === 'string' && team !== this.workspace.team.gid) throw unrecognizedId('team', team);
    const archived = query.archived === undefined ? undefined : query.archived === 'true';
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.allProjects(),
      (project) => !project.deleted && (archived === undefined || project.archived === archived),
      'projects',
      (project) => this.presenter.projectCompact(project, fields),
    );
  }

  @Get(':project_gid')
  get(@Param('project_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.project(this.workspace.getProject(gid), readOptFields(query)) };
  }

  /** Compact tasks of the project in project order, trashed ones left out. */
  @Get(':project_gid/tasks')
  tasks(@Req() request: Request, @Param('project_gid') gid: string, @Query() query: Record<string, unknown>) {
    const since = readCompletedSince(query.completed_since);
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.projectTaskHistory(gid),
      (task) => !task.deleted && (since === undefined || !task.completed || (task.completedAt ?? 0) >= since),
      `projects/${gid}/tasks`,
      (task) => this.presenter.taskCompact(task, fields),
    );
  }

  @Post()
  create(@Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const project = this.workspace.createProject(
      {
        name: optionalString(data, 'name'),
        notes: optionalString(data, 'notes'),
        archived: optionalBoolean(data, 'archived'),
        color: optionalNullableString(data, 'color'),
        owner: optionalNullableString(data, 'owner'),
        team: optionalString(data, 'team'),
        workspace: optionalString(data, 'workspace'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.project(project, readOptFields(query, body)) };
  }

  @Put(':project_gid')
  update(@Param('project_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const project = this.workspace.updateProject(
      gid,
      {
        name: optionalString(data, 'name'),
        notes: optionalString(data, 'notes'),
        archived: optionalBoolean(data, 'archived'),
        color: optionalNullableString(data, 'color'),
        owner: optionalNullableString(data, 'owner'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.project(project, readOptFields(query, body)) };
  }

  @Delete(':project_gid')
  delete(@Param('project_gid') gid: string) {
    this.workspace.deleteProject(gid, this.workspace.me().gid);
    return { data: {} };
  }
}

/** `completed_since`: a date-time or "now"; only incomplete tasks and those completed since then. */
export function readCompletedSince(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'now') return Date.now();
  const parsed = typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (Number.isNaN(parsed)) throw invalidRequest('completed_since: Not a valid date-time or "now"');
  return parsed;
}
