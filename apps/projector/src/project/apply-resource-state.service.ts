import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { ResourceChangeMessage, ResourceStateMessage } from '@asana-stream/contracts';
import { OUTBOX_CHANNEL, OutboxEntity, type ProjectionColumns } from '@asana-stream/db';
import { currentTraceparent } from '@asana-stream/telemetry';
import { projectionTableFor } from './projection-tables';
import { decideProjection, type ProjectionDecision } from './version-guard';

export type ApplyOutcome = ProjectionDecision['outcome'] | 'applied-silently' | 'applied';

/**
 * Applies one state message to the projection and, when something visible changed, writes the
 * change to the outbox in the same transaction: the row and its change commit together or not
 * at all. The row is locked while deciding, so a concurrent apply of the same gid waits.
 */
@Injectable()
export class ApplyResourceStateService {
  private readonly log = new Logger(ApplyResourceStateService.name);

  constructor(private readonly dataSource: DataSource) {}

  apply(message: ResourceStateMessage): Promise<ApplyOutcome> {
    return this.dataSource.transaction('READ COMMITTED', (manager) => this.applyIn(manager, message));
  }

  private async applyIn(manager: EntityManager, message: ResourceStateMessage): Promise<ApplyOutcome> {
    const table = projectionTableFor(message.type);
    const repository = manager.getRepository<ProjectionColumns>(table.entity);
    const stored = await repository.findOne({ where: { gid: message.gid }, lock: { mode: 'pessimistic_write' } });
    const decision = decideProjection(
      stored && { version: stored.version, deleted: stored.deletedAt !== null, state: stored.state },
      message,
    );
    if (decision.outcome !== 'apply') {
      this.log.debug({ msg: `state ${decision.outcome}`, gid: message.gid, version: message.version });
      return decision.outcome;
    }
    const now = new Date();
    const row: QueryDeepPartialEntity<ProjectionColumns> = {
      gid: message.gid,
      version: message.version,
      // A tombstone keeps the last state we saw; a tombstone of an unseen resource keeps its identity.
      state: message.state ?? stored?.state ?? { gid: message.gid, resource_type: message.type },
      deletedAt: message.deleted ? (stored?.deletedAt ?? now) : null,
      updatedAt: now,
      ...table.columns(message.state ?? stored?.state ?? null, message.type),
    } as QueryDeepPartialEntity<ProjectionColumns>;
    if (stored) await repository.update({ gid: message.gid }, row);
    else await repository.insert(row);
    if (!decision.emit) return 'applied-silently';

    const change: Omit<ResourceChangeMessage, 'changeId'> = {
      schema: 1,
      gid: message.gid,
      type: message.type,
      action: decision.action,
      version: message.version,
      changes: decision.changes,
      state: message.state,
      causes: message.causes,
      occurredAt: new Date(message.version).toISOString(),
    };
    const outboxRow = { gid: message.gid, type: message.type, change, traceparent: currentTraceparent() };
    await manager.insert(OutboxEntity, outboxRow as QueryDeepPartialEntity<OutboxEntity>);
    await manager.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    return 'applied';
  }
}
