import { Column, Entity, PrimaryColumn } from 'typeorm';

export type SubscriptionStatus = 'pending_handshake' | 'active' | 'deleted';

/** One of Asana's webhook filters (`WebhookFilter` of its API; the same shape as `AsanaWebhookFilter` of libs/asana). */
export interface WebhookFilter {
  resource_type?: string;
  resource_subtype?: string;
  action?: string;
  fields?: string[];
}

/**
 * One Asana webhook as we know it. The row exists before Asana's handshake reaches ingest:
 * ingest echoes a secret only for a subscription pending its handshake, and never overwrites one.
 */
@Entity({ name: 'subscriptions' })
export class SubscriptionEntity {
  /** Our id, the last segment of the webhook's target URL. */
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** Asana's webhook gid, known once the create call returned. */
  @Column({ name: 'webhook_gid', type: 'text', nullable: true, unique: true })
  webhookGid!: string | null;

  @Column({ name: 'resource_gid', type: 'text' })
  resourceGid!: string;

  /**
   * What the webhook watches (`project`, `task`, `workspace`, …: Asana's webhook `resource.resource_type`),
   * which decides how it is resynced; null for a subscription made before it was kept, until the
   * webhook monitor or a resync reads the webhook from Asana.
   */
  @Column({ name: 'resource_type', type: 'text', nullable: true })
  resourceType!: string | null;

  /**
   * The `filters` the webhook was created with (Asana's `WebhookFilter`s, OR-ed), so that one
   * Asana deleted, or a rotation, makes the new webhook with the same ones (a workspace webhook
   * cannot be made without); null: none (migration WebhookFilters1765454400000).
   */
  @Column({ type: 'jsonb', nullable: true })
  filters!: WebhookFilter[] | null;

  @Column({ name: 'target_url', type: 'text' })
  targetUrl!: string;

  /**
   * The handshake secret deliveries are signed with, encrypted (`enc:v1:<key id>:…`, see
   * `WebhookSecretCipher` of `@asana-stream/config`; one stored before encryption is plain until
   * `asana-stream secrets reencrypt`).
   */
  @Column({ type: 'text', nullable: true })
  secret!: string | null;

  @Column({ type: 'text' })
  status!: SubscriptionStatus;

  @Column({ name: 'handshake_at', type: 'timestamptz', nullable: true })
  handshakeAt!: Date | null;

  @Column({ name: 'last_delivery_at', type: 'timestamptz', nullable: true })
  lastDeliveryAt!: Date | null;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true })
  lastHeartbeatAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  /** When the enricher's webhook monitor last looked the webhook up in Asana. */
  @Column({ name: 'health_checked_at', type: 'timestamptz', nullable: true })
  healthCheckedAt!: Date | null;

  /** What Asana reported of the webhook's deliveries then (or that Asana deleted it). */
  @Column({ name: 'asana_health', type: 'jsonb', nullable: true })
  asanaHealth!: Record<string, unknown> | null;

  @Column({ name: 'failing_since', type: 'timestamptz', nullable: true })
  failingSince!: Date | null;

  @Column({ name: 'silent_since', type: 'timestamptz', nullable: true })
  silentSince!: Date | null;

  /** Why a deleted subscription ended: deleted by Asana, rotated, or by an operator. */
  @Column({ name: 'deleted_reason', type: 'text', nullable: true })
  deletedReason!: string | null;

  /** The subscription that took over (a webhook made again, or rotated). */
  @Column({ name: 'replaced_by', type: 'uuid', nullable: true })
  replacedBy!: string | null;
}
