import { Controller, Get, Query } from '@nestjs/common';
import { EventStream } from '../events/event-stream';

/**
 * Asana's Events API, the polling fallback to webhooks (contract §7): `GET /events?resource=GID`
 * answers 412 with a sync token, then `&sync=TOKEN` answers the events since, 100 at a time.
 */
@Controller('api/1.0/events')
export class EventsController {
  constructor(private readonly events: EventStream) {}

  @Get()
  get(@Query() query: Record<string, unknown>) {
    return this.events.read(query.resource, query.sync);
  }
}
