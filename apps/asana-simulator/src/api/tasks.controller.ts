import { Body, Controller, Delete, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ResourcePresenter } from '../workspace/resource.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import {
  optionalBoolean,
  optionalNullableString,
  optionalString,
  optionalStringArray,
  readData,
  readOptFields,
} from './request-body';

/** Tasks: read, create, update, delete; every write acts as the token's user. */
@Controller('api/1.0/tasks')
export class TasksController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: ResourcePresenter,
  ) {}

  @Get(':task_gid')
  get(@Param('task_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.task(this.workspace.getTask(gid), readOptFields(query)) };
  }

  @Post()
  create(@Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const task = this.workspace.createTask(
      {
        name: optionalString(data, 'name'),
        notes: optionalString(data, 'notes'),
        completed: optionalBoolean(data, 'completed'),
        assignee: optionalNullableString(data, 'assignee'),
        projects: optionalStringArray(data, 'projects'),
        workspace: optionalString(data, 'workspace'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.task(task, readOptFields(query, body)) };
  }

  @Put(':task_gid')
  update(@Param('task_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const task = this.workspace.updateTask(
      gid,
      {
        name: optionalString(data, 'name'),
        notes: optionalString(data, 'notes'),
        completed: optionalBoolean(data, 'completed'),
        assignee: optionalNullableString(data, 'assignee'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.task(task, readOptFields(query, body)) };
  }

  @Delete(':task_gid')
  delete(@Param('task_gid') gid: string) {
    this.workspace.deleteTask(gid, this.workspace.me().gid);
    return { data: {} };
  }
}
