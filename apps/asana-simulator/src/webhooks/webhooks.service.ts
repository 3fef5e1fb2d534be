import type { AsanaWebhookFilter } from '@asana-stream/asana';
import { ASANA_HOOK_SECRET_HEADER } from '@asana-stream/asana';
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { GidSequence } from '../gid-sequence';
import { invalidRequest, SimulatorError, unknownObject, unrecognizedId } from '../simulator.errors';
import type { WorkspaceService } from '../workspace/workspace.service';
import type { WebhookDeliveryService } from './webhook-delivery.service';
import { readWebhookFilters } from './webhook-filters';
import type { WebhookTransport } from './webhook-transport';
import type { WebhookRecord, WebhookStore } from './webhook.store';

export interface CreateWebhookInput {
  resource?: unknown;
  target?: unknown;
  filters?: unknown;
}

export interface CreatedWebhook {
  webhook: WebhookRecord;
  secret: string;
}

const LOCAL_HOSTNAME = /(^|\.)localhost\.?$/i;

/** Registering, reading, updating and deleting webhooks, with Asana's synchronous handshake. */
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);
  /** resource + target pairs whose handshake is under way, so a concurrent twin is a duplicate too. */
  private readonly handshaking = new Set<string>();

  constructor(
    private readonly store: WebhookStore,
    private readonly deliveries: WebhookDeliveryService,
    private readonly transport: WebhookTransport,
    private readonly workspace: WorkspaceService,
    private readonly gids: GidSequence,
    private readonly clock: Clock,
    private readonly receiverTimeoutMs: number,
  ) {}

  /**
   * Creates a webhook the way Asana does: checks the request, then, before answering, POSTs the
   * handshake to the target with a fresh `X-Hook-Secret`, and only if the target echoes it with
   * a 200 or 204 stores the webhook and starts deliveries.
   */
  async create(input: CreateWebhookInput): Promise<CreatedWebhook> {
    if (typeof input.resource !== 'string' || input.resource === '') throw invalidRequest('resource: Missing input');
    if (typeof input.target !== 'string' || input.target === '') throw invalidRequest('target: Missing input');
    const resource = this.workspace.describeResource(input.resource);
    if (!resource) throw unrecognizedId('resource', input.resource);
    const target = readTarget(input.target);
    const filters = readWebhookFilters(input.filters);
    if (resource.resource_type === 'workspace' && filters.length === 0) {
      throw invalidRequest('filters: Webhooks on a workspace must have filters');
    }
    const key = `${resource.gid} ${target}`;
    const duplicate = this.store.all().some((w) => w.resourceGid === resource.gid && w.target === target);
    if (duplicate || this.handshaking.has(key)) {
      throw new SimulatorError(
        'FORBIDDEN',
        'Duplicated webhook: a webhook for this resource and target already exists',
      );
    }
    this.handshaking.add(key);
    const secret = randomBytes(32).toString('hex');
    try {
      await this.handshake(target, secret);
    } finally {
      this.handshaking.delete(key);
    }
    const webhook: WebhookRecord = {
      gid: this.gids.next(),
      resourceGid: resource.gid,
      resourceType: resource.resource_type,
      resourceName: resource.name,
      target,
      secret,
      filters,
      createdAt: this.clock.now(),
      lastSuccessAt: null,
      lastFailureAt: null,
      lastFailureContent: '',
      deliveryRetryCount: 0,
      nextAttemptAfter: null,
      failureDeletionTimestamp: null,
    };
    this.store.add(webhook);
    this.deliveries.start(webhook);
    this.logger.log({ message: 'webhook created', gid: webhook.gid, resource: resource.gid });
    return { webhook, secret };
  }

  get(gid: string): WebhookRecord {
    const webhook = this.store.get(gid);
    if (!webhook) throw unknownObject(gid);
    return webhook;
  }

  /** Webhooks on resources of the workspace, optionally of one resource, in creation order. */
  list(workspaceGid: unknown, resourceGid: unknown): WebhookRecord[] {
    if (typeof workspaceGid !== 'string' || workspaceGid === '') throw invalidRequest('workspace: Missing input');
    if (workspaceGid !== this.workspace.workspace.gid) throw unrecognizedId('workspace', workspaceGid);
    if (resourceGid !== undefined && typeof resourceGid !== 'string') throw invalidRequest('resource: Invalid value');
    return this.store.all().filter((w) => resourceGid === undefined || w.resourceGid === resourceGid);
  }

  /** Replaces the filters; Asana lets nothing else of a webhook change. */
  updateFilters(gid: string, filters: unknown): WebhookRecord {
    const webhook = this.get(gid);
    const parsed: AsanaWebhookFilter[] = readWebhookFilters(filters);
    if (webhook.resourceType === 'workspace' && parsed.length === 0) {
      throw invalidRequest('filters: Webhooks on a workspace must have filters');
    }
    webhook.filters = parsed;
    return webhook;
  }

  delete(gid: string): void {
    if (!this.store.remove(gid)) throw unknownObject(gid);
    this.deliveries.stop(gid);
  }

  private async handshake(target: string, secret: string): Promise<void> {
    let reason: string;
    try {
      const answer = await this.transport.post({
        url: target,
        headers: { 'X-Hook-Secret': secret },
        body: Buffer.alloc(0),
        timeoutMs: this.receiverTimeoutMs,
      });
      const echoed = answer.headers[ASANA_HOOK_SECRET_HEADER];
      if ((answer.status === 200 || answer.status === 204) && echoed === secret) return;
      reason =
        answer.status === 200 || answer.status === 204
          ? 'the target did not echo the X-Hook-Secret header'
          : `the target answered ${answer.status}`;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    // Asana documents that the create fails but not with which status; 400 says "this request
    // cannot succeed as sent", which is what a client has to fix (its receiver), and is not
    // retried blindly by clients the way a 5xx would be.
    throw new SimulatorError('HANDSHAKE_FAILED', `The webhook handshake with ${target} failed: ${reason}`);
  }
}

/** The target as given (query string included, it is used for every delivery), if Asana would accept it. */
function readTarget(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidRequest('target: Not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidRequest('target: Not a valid URL');
  if (LOCAL_HOSTNAME.test(url.hostname)) {
    throw new SimulatorError('FORBIDDEN', `target: Invalid hostname ${url.hostname}: webhooks cannot target localhost`);
  }
  return raw;
}
