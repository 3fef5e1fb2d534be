import { Body, Controller, Headers, HttpCode, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ASANA_HOOK_SECRET_HEADER } from '@asana-stream/asana';
import { IngestError } from './ingest.errors';
import { ReceiveDeliveryService, type DeliveryReceipt } from './receive-delivery.service';
import { SubscriptionsRepository } from './subscriptions.repository';

/** Asana's webhook target: `POST /webhooks/asana/<subscription id>` (handshakes and deliveries). */
@Controller('webhooks/asana')
export class WebhooksController {
  constructor(
    private readonly deliveries: ReceiveDeliveryService,
    private readonly subscriptions: SubscriptionsRepository,
  ) {}

  @Post(':subscriptionId')
  @HttpCode(200)
  async receive(
    @Param('subscriptionId', new ParseUUIDPipe()) subscriptionId: string,
    @Body() rawBody: unknown,
    @Headers() headers: Record<string, string | undefined>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DeliveryReceipt | undefined> {
    const secret = headers[ASANA_HOOK_SECRET_HEADER];
    if (secret !== undefined) {
      await this.handshake(subscriptionId, secret, response);
      return undefined;
    }
    // The route's raw parser gives a Buffer for every content type, even none.
    const body = Buffer.isBuffer(rawBody) ? rawBody : Buffer.alloc(0);
    return this.deliveries.receive(subscriptionId, body, headers);
  }

  /** Echoes `X-Hook-Secret` only for a subscription pending its handshake. */
  private async handshake(subscriptionId: string, secret: string, response: Response): Promise<void> {
    if (!/^[\x21-\x7e]{16,256}$/.test(secret)) {
      throw new IngestError('MALFORMED_DELIVERY', 'X-Hook-Secret is not a plausible secret', false);
    }
    const outcome = await this.subscriptions.acceptHandshake(subscriptionId, secret);
    if (outcome === 'unknown') throw new IngestError('UNKNOWN_SUBSCRIPTION', 'no subscription has this id', false);
    if (outcome === 'not-pending') {
      throw new IngestError('HANDSHAKE_NOT_EXPECTED', 'this subscription is not waiting for a handshake', false);
    }
    response.setHeader('X-Hook-Secret', secret);
  }
}
