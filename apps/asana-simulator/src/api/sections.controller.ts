import { Body, Controller, Delete, Get, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { SectionPresenter } from '../workspace/section.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { listResponse } from './list-response';
import { optionalString, readData, readOptFields } from './request-body';

/** Sections: read or delete one, a project's sections, and new ones; every write acts as the token's user. */
@Controller('api/1.0')
export class SectionsController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: SectionPresenter,
  ) {}

  @Get('sections/:section_gid')
  get(@Param('section_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.section(this.workspace.sections.get(gid), readOptFields(query)) };
  }

  @Delete('sections/:section_gid')
  delete(@Param('section_gid') gid: string) {
    this.workspace.sections.delete(gid, this.workspace.me().gid);
    return { data: {} };
  }

  /** Compact sections of the project in the project's order, deleted ones left out. */
  @Get('projects/:project_gid/sections')
  list(@Req() request: Request, @Param('project_gid') gid: string, @Query() query: Record<string, unknown>) {
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.sections.history(this.workspace.getProject(gid)),
      (section) => !section.deleted,
      `projects/${gid}/sections`,
      (section) => this.presenter.sectionCompact(section, fields),
    );
  }

  @Post('projects/:project_gid/sections')
  create(@Param('project_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const section = this.workspace.sections.create(
      gid,
      {
        name: optionalString(data, 'name'),
        insertBefore: optionalString(data, 'insert_before'),
        insertAfter: optionalString(data, 'insert_after'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.section(section, readOptFields(query, body)) };
  }
}
