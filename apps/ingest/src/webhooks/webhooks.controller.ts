import { Body, Controller, Headers, HttpCode, Inject, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ASANA_HOOK_SECRET_HEADER } from '@asana-stream/asana';
import { APP_CONFIG, type IngestConfig } from '@asana-stream/config';
import { IngestError } from './ingest.errors';
import { recordAccepted, setOutcome } from './ingest-metrics';
import { ReceiveDeliveryService, type DeliveryReceipt } from './receive-delivery.service';
import { requestDeadline } from './request-deadline';
import { SubscriptionsRepository } from './subscriptions.repository';
import { within } from './within';

/** Asana's webhook target: `POST /webhooks/asana/<subscription id>` (handshakes and deliveries). */
@Controller('webhooks/asana')
export class WebhooksController {
  constructor(
    private readonly deliveries: ReceiveDeliveryService,
    private readonly subscriptions: SubscriptionsRepository,
    @Inject(APP_CONFIG) private readonly config: IngestConfig,
  ) {}

  @Post(':subscriptionId')
  @HttpCode(200)
  async receive(
    @Param('subscriptionId', new ParseUUIDPipe()) subscriptionId: string,
    @Body() rawBody: unknown,
    @Headers() headers: Record<string, string | undefined>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DeliveryReceipt | undefined> {
    const deadline = requestDeadline(response, this.config.ingest.INGEST_REQUEST_TIMEOUT_MS);
    const secret = headers[ASANA_HOOK_SECRET_HEADER];
    if (secret !== undefined) {
      await this.handshake(subscriptionId, secret, response, deadline);
      setOutcome(response, 'handshake');
      return undefined;
    }
    // The route's raw parser gives a Buffer for every content type, even none.
    const body = Buffer.isBuffer(rawBody) ? rawBody : Buffer.alloc(0);
    const receipt = await this.deliveries.receive(subscriptionId, body, headers, deadline);
    setOutcome(response, 'accepted');
    recordAccepted(subscriptionId, receipt.eventCount);
    return receipt;
  }

  /** Echoes `X-Hook-Secret` only for a subscription pending its handshake. */
  private async handshake(subscriptionId: string, secret: string, response: Response, deadline: number): Promise<void> {
    if (!/^[\x21-\x7e]{16,256}$/.test(secret)) {
      throw new IngestError('MALFORMED_DELIVERY', 'X-Hook-Secret is not a plausible secret');
    }
    // The secret is written to Postgres: without it there is no handshake (503, Asana's create call fails).
    const outcome = await within(
      this.subscriptions.acceptHandshake(subscriptionId, secret),
      deadline - Date.now(),
      () => new IngestError('DATABASE_UNAVAILABLE', 'Postgres did not store the handshake in time; retry later'),
    );
    if (outcome === 'unknown') throw new IngestError('UNKNOWN_SUBSCRIPTION', 'no subscription has this id');
    if (outcome === 'not-pending') {
      throw new IngestError('HANDSHAKE_NOT_EXPECTED', 'this subscription is not waiting for a handshake');
    }
    response.setHeader('X-Hook-Secret', secret);
  }
}
