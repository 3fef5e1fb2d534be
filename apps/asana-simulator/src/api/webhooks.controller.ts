import { Body, Controller, Delete, Get, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { WebhookPresenter } from '../webhooks/webhook.presenter';
import { WebhooksService } from '../webhooks/webhooks.service';
import { listResponse } from './list-response';
import { readData, readOptFields } from './request-body';

@Controller('api/1.0/webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly presenter: WebhookPresenter,
  ) {}

  /** Answers only after the handshake with the target has succeeded (see WebhooksService.create). */
  @Post()
  async create(@Body() body: unknown, @Query() query: Record<string, unknown>) {
    const data = readData(body);
    const { webhook, secret } = await this.webhooks.create(data);
    return { data: this.presenter.full(webhook, readOptFields(query, body)), 'X-Hook-Secret': secret };
  }

  @Get()
  list(@Req() request: Request, @Query() query: Record<string, unknown>) {
    const webhooks = this.webhooks.list(query.workspace, query.resource);
    const fields = readOptFields(query);
    return listResponse(
      request,
      webhooks,
      () => true,
      `webhooks/${String(query.workspace)}/${String(query.resource)}`,
      (webhook) => this.presenter.compact(webhook, fields),
    );
  }

  @Get(':webhook_gid')
  get(@Param('webhook_gid') gid: string, @Query() query: Record<string, unknown>) {
    return { data: this.presenter.full(this.webhooks.get(gid), readOptFields(query)) };
  }

  @Put(':webhook_gid')
  update(@Param('webhook_gid') gid: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const webhook = this.webhooks.updateFilters(gid, readData(body).filters);
    return { data: this.presenter.full(webhook, readOptFields(query, body)) };
  }

  @Delete(':webhook_gid')
  delete(@Param('webhook_gid') gid: string) {
    this.webhooks.delete(gid);
    return { data: {} };
  }
}
