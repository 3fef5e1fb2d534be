import { Controller, Get, Param, Query } from '@nestjs/common';
import { ResourcePresenter } from '../workspace/resource.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { readOptFields } from './request-body';

@Controller('api/1.0/users')
export class UsersController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: ResourcePresenter,
  ) {}

  /** `GET /users/me` (the token's user) or any user by gid or email. */
  @Get(':user_gid')
  getUser(@Param('user_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.user(this.workspace.getUser(gid), readOptFields(query)) };
  }
}
