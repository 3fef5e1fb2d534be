import { Body, Controller, Delete, Get, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { StoryPresenter } from '../workspace/story.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { listResponse } from './list-response';
import { optionalString, readData, readOptFields } from './request-body';

/** Stories: read or delete one, a task's stories, and comments; every write acts as the token's user. */
@Controller('api/1.0')
export class StoriesController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: StoryPresenter,
  ) {}

  @Get('stories/:story_gid')
  get(@Param('story_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.story(this.workspace.stories.get(gid), readOptFields(query)) };
  }

  @Delete('stories/:story_gid')
  delete(@Param('story_gid') gid: string) {
    this.workspace.stories.delete(gid, this.workspace.me().gid);
    return { data: {} };
  }

  /** Compact stories of the task, oldest first, deleted ones left out. */
  @Get('tasks/:task_gid/stories')
  list(@Req() request: Request, @Param('task_gid') gid: string, @Query() query: Record<string, unknown>) {
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.stories.history(gid),
      (story) => !story.deleted,
      `tasks/${gid}/stories`,
      (story) => this.presenter.storyCompact(story, fields),
    );
  }

  /** Adds a comment (the only stories Asana's API creates) and answers 201 with the full story. */
  @Post('tasks/:task_gid/stories')
  create(@Param('task_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const story = this.workspace.stories.addComment(
      gid,
      { text: optionalString(data, 'text'), htmlText: optionalString(data, 'html_text') },
      this.workspace.me().gid,
    );
    return { data: this.presenter.story(story, readOptFields(query, body)) };
  }
}
