import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { optionalString } from '../api/request-body';
import { invalidRequest } from '../simulator.errors';
import { AttachmentPresenter } from '../workspace/attachment.presenter';
import { WorkspaceService } from '../workspace/workspace.service';

/**
 * Attaching a link to a task, outside Asana's API and without auth: Asana's own route
 * (`POST /attachments`) takes a multipart upload, which nothing here needs. Acts as the token's user.
 */
@Controller('_sim')
export class AttachmentsControlController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: AttachmentPresenter,
  ) {}

  /**
   * `{"parent": TASK_GID, "name", "url"}`: answers 200 with the full attachment, as Asana's
   * `POST /attachments` does, and records the task's `attachment_added` story and its event.
   */
  @Post('attachments')
  @HttpCode(200)
  create(@Body() body: unknown) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest('body: Missing input');
    const input = body as Record<string, unknown>;
    const attachment = this.workspace.attachments.create(
      {
        parent: optionalString(input, 'parent'),
        name: optionalString(input, 'name'),
        url: optionalString(input, 'url'),
      },
      this.workspace.me().gid,
    );
    return { data: this.presenter.attachment(attachment) };
  }
}
