import { Controller, Delete, Get, Param, Query } from '@nestjs/common';
import { AttachmentPresenter } from '../workspace/attachment.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { readOptFields } from './request-body';

/**
 * Attachments: read and delete. Asana creates them with a multipart upload (`POST /attachments`);
 * the simulator attaches links through `POST /_sim/attachments` instead.
 */
@Controller('api/1.0/attachments')
export class AttachmentsController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: AttachmentPresenter,
  ) {}

  @Get(':attachment_gid')
  get(@Param('attachment_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.attachment(this.workspace.attachments.get(gid), readOptFields(query)) };
  }

  @Delete(':attachment_gid')
  delete(@Param('attachment_gid') gid: string) {
    this.workspace.attachments.delete(gid, this.workspace.me().gid);
    return { data: {} };
  }
}
