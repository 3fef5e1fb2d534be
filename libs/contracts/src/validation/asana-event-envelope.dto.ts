import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsObject, IsOptional, IsString, Matches, ValidateNested } from 'class-validator';

const NUMERIC_GID = /^\d+$/;

/** A `{gid, resource_type}` reference inside an Asana event. */
export class ResourceRefDto {
  @Matches(NUMERIC_GID, { message: 'gid must be a numeric string' })
  @IsString()
  gid!: string;

  @IsString()
  resource_type!: string;
}

/**
 * The parts of an Asana event asana-stream relies on, in a webhook delivery (ingest) and in
 * `asana.events` (the enricher). `change` and fields Asana adds later pass unchecked: the event
 * is forwarded as Asana sent it.
 */
export class AsanaEventDto {
  @IsIn(['changed', 'added', 'removed', 'deleted', 'undeleted'])
  action!: string;

  @IsISO8601()
  created_at!: string;

  @IsObject()
  @ValidateNested()
  @Type(() => ResourceRefDto)
  resource!: ResourceRefDto;

  @IsOptional()
  @IsObject()
  parent?: object | null;

  @IsOptional()
  @IsObject()
  user?: object | null;
}

/** The value of `asana.events` as the enricher accepts it (`AsanaEventEnvelope`). */
export class AsanaEventEnvelopeDto {
  @Matches(/\S/, { message: 'eventId must not be empty' })
  @IsString()
  eventId!: string;

  @IsIn(['webhook', 'events-api', 'resync'])
  source!: string;

  @IsOptional()
  @IsString()
  subscriptionId!: string | null;

  @IsOptional()
  @IsString()
  deliveryId!: string | null;

  @IsISO8601()
  receivedAt!: string;

  @IsObject()
  @ValidateNested()
  event!: AsanaEventDto;
}

/**
 * The envelope as class instances, built by hand rather than by class-transformer: only the
 * objects that carry decorators become instances, shallowly, so decoding costs a few property
 * copies per message, whatever else the event holds.
 */
export function asanaEventEnvelopeDto(value: object): AsanaEventEnvelopeDto {
  const envelope = Object.assign(new AsanaEventEnvelopeDto(), value);
  if (isPlainObject(envelope.event)) {
    const event = Object.assign(new AsanaEventDto(), envelope.event);
    if (isPlainObject(event.resource)) event.resource = Object.assign(new ResourceRefDto(), event.resource);
    envelope.event = event;
  }
  return envelope;
}

/** An object that is not an array: what a DTO can be built from. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
