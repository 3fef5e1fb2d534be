import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { TagPresenter } from '../workspace/tag.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { optionalNullableString, optionalString, readData, readOptFields } from './request-body';

/** Tags: create, read, delete; every write acts as the token's user. */
@Controller('api/1.0/tags')
export class TagsController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: TagPresenter,
  ) {}

  @Get(':tag_gid')
  get(@Param('tag_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.tag(this.workspace.tags.get(gid), readOptFields(query)) };
  }

  @Post()
  create(@Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const tag = this.workspace.tags.create(
      {
        name: optionalString(data, 'name'),
        color: optionalNullableString(data, 'color'),
        notes: optionalString(data, 'notes'),
        workspace: optionalString(data, 'workspace'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.tag(tag, readOptFields(query, body)) };
  }

  @Delete(':tag_gid')
  delete(@Param('tag_gid') gid: string) {
    this.workspace.tags.delete(gid, this.workspace.me().gid);
    return { data: {} };
  }
}
