import { Body, Controller, Delete, Get, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { invalidRequest, unrecognizedId } from '../simulator.errors';
import { ResourcePresenter } from '../workspace/resource.presenter';
import type { TaskRecord } from '../workspace/workspace.records';
import { WorkspaceService } from '../workspace/workspace.service';
import { listResponse } from './list-response';
import { readCompletedSince } from './projects.controller';
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

  /**
   * `GET /tasks?project=P[&modified_since=T][&completed_since=T]`: compact tasks of the project in
   * project order, trashed ones left out (the same list as `GET /projects/{gid}/tasks`), paginated.
   * Only the `project` filter is simulated; Asana also filters by tag, section, or assignee with
   * workspace, and wants one of them.
   */
  @Get()
  list(@Req() request: Request, @Query() query: Record<string, unknown>) {
    const project = query.project;
    if (typeof project !== 'string' || project === '') {
      throw invalidRequest(
        'Must specify exactly one of project, tag, section, user task list, or assignee + workspace',
      );
    }
    const found = this.workspace.findProject(project);
    if (!found || found.deleted) throw unrecognizedId('project', project);
    const completedSince = readCompletedSince(query.completed_since);
    const modifiedSince = readModifiedSince(query.modified_since);
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.projectTaskHistory(project),
      (task) => isListed(task, { completedSince, modifiedSince }),
      `tasks?project=${project}`,
      (task) => this.presenter.taskCompact(task, fields),
    );
  }

  @Get(':task_gid')
  get(@Param('task_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.task(this.workspace.getTask(gid), readOptFields(query)) };
  }

  /** `GET /tasks/{gid}/subtasks`: compact subtasks of the task in order, trashed ones left out, paginated. */
  @Get(':task_gid/subtasks')
  subtasks(@Req() request: Request, @Param('task_gid') gid: string, @Query() query: Record<string, unknown>) {
    const fields = readOptFields(query);
    return listResponse(
      request,
      this.workspace.subtaskHistory(gid),
      (task) => !task.deleted,
      `tasks/${gid}/subtasks`,
      (task) => this.presenter.taskCompact(task, fields),
    );
  }

  /** `POST /tasks/{gid}/subtasks`: answers 201 with the full subtask. */
  @Post(':task_gid/subtasks')
  createSubtask(@Param('task_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const task = this.workspace.createSubtask(gid, taskFields(data), this.workspace.me().gid);
    return { data: this.presenter.task(task, readOptFields(query, body)) };
  }

  @Post()
  create(@Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const task = this.workspace.createTask(
      {
        ...taskFields(data),
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
    const task = this.workspace.updateTask(gid, taskFields(data), this.workspace.me().gid);
    return { data: this.presenter.task(task, readOptFields(query, body)) };
  }

  @Delete(':task_gid')
  delete(@Param('task_gid') gid: string) {
    this.workspace.deleteTask(gid, this.workspace.me().gid);
    return { data: {} };
  }
}

/**
 * Whether `GET /tasks` lists a task of the project: not trashed, incomplete or completed since
 * `completedSince`, and modified at or after `modifiedSince` (Asana: "modified since the given
 * time"; whether the bound is inclusive is undocumented, so the simulator includes it).
 */
export function isListed(task: TaskRecord, filter: { completedSince?: number; modifiedSince?: number }): boolean {
  if (task.deleted) return false;
  if (filter.completedSince !== undefined && task.completed && (task.completedAt ?? 0) < filter.completedSince) {
    return false;
  }
  return filter.modifiedSince === undefined || task.modifiedAt >= filter.modifiedSince;
}

/** `modified_since`: a date-time (ISO 8601); tasks modified since then. */
function readModifiedSince(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (Number.isNaN(parsed)) throw invalidRequest('modified_since: Not a valid date-time');
  return parsed;
}

/** The fields a task's create, subtask create and update all take from the request's `data`. */
function taskFields(data: Record<string, unknown>) {
  return {
    name: optionalString(data, 'name'),
    notes: optionalString(data, 'notes'),
    completed: optionalBoolean(data, 'completed'),
    assignee: optionalNullableString(data, 'assignee'),
  };
}
