import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ResourcePresenter } from '../workspace/resource.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { listResponse } from './list-response';
import { readOptFields } from './request-body';

@Controller('api/1.0/workspaces')
export class WorkspacesController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: ResourcePresenter,
  ) {}

  @Get()
  list(@Req() request: Request, @Query() query: Record<string, unknown>) {
    const fields = readOptFields(query);
    return listResponse(
      request,
      [this.workspace.workspace],
      () => true,
      'workspaces',
      () => this.presenter.workspaceCompact(fields),
    );
  }

  @Get(':workspace_gid')
  get(@Param('workspace_gid') gid: string, @Query() query: Record<string, unknown>) {
    this.workspace.getWorkspace(gid);
    return { data: this.presenter.workspace(readOptFields(query)) };
  }

  /** The workspace's projects (compact), as `GET /projects?workspace=` lists them. */
  @Get(':workspace_gid/projects')
  projects(@Req() request: Request, @Param('workspace_gid') gid: string, @Query() query: Record<string, unknown>) {
    this.workspace.getWorkspace(gid);
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.allProjects(),
      (project) => !project.deleted,
      `workspaces/${gid}/projects`,
      (project) => this.presenter.projectCompact(project, fields),
    );
  }
}
