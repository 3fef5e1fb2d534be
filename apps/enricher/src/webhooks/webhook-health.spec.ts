import type { AsanaWebhook } from '@asana-stream/asana';
import { ASANA_HEARTBEAT_INTERVAL_MS, judgeWebhook, reportedHealth, SILENCE_MARGIN_MS } from './webhook-health';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

function webhook(health: Partial<AsanaWebhook> = {}): AsanaWebhook {
  return {
    gid: '1',
    resource_type: 'webhook',
    active: true,
    resource: { gid: '2', resource_type: 'project' },
    target: 'https://ingest/webhooks/asana/x',
    created_at: ago(86_400_000).toISOString(),
    last_success_at: ago(60_000).toISOString(),
    last_failure_at: null,
    last_failure_content: '',
    delivery_retry_count: 0,
    next_attempt_after: null,
    failure_deletion_timestamp: null,
    filters: [],
    ...health,
  };
}

const heardRecently = {
  createdAt: ago(86_400_000),
  lastDeliveryAt: ago(60_000),
  lastHeartbeatAt: null,
  failingSince: null,
  silentSince: null,
};

describe('judgeWebhook', () => {
  it('finds a webhook delivering and heard from healthy, asking for nothing', () => {
    expect(judgeWebhook(webhook(), heardRecently, NOW)).toEqual({ failing: false, silent: false, resyncReason: null });
  });

  it('calls a webhook with retries pending failing, and asks for one resync when the failure starts', () => {
    const failing = webhook({ delivery_retry_count: 3, last_failure_content: '503 Service Unavailable' });
    const verdict = judgeWebhook(failing, heardRecently, NOW);
    expect(verdict.failing).toBe(true);
    expect(verdict.resyncReason).toBe('Asana reports the webhook failing (3 retries pending): 503 Service Unavailable');
    // Already known to be failing: no second request.
    expect(judgeWebhook(failing, { ...heardRecently, failingSince: ago(1000) }, NOW).resyncReason).toBeNull();
  });

  it('calls a webhook whose last failure came after its last success failing, even with no retry pending', () => {
    const verdict = judgeWebhook(
      webhook({ last_success_at: ago(120_000).toISOString(), last_failure_at: ago(60_000).toISOString() }),
      heardRecently,
      NOW,
    );
    expect(verdict.failing).toBe(true);
  });

  it('is not failing when the last success came after the last failure', () => {
    const verdict = judgeWebhook(
      webhook({ last_success_at: ago(1_000).toISOString(), last_failure_at: ago(60_000).toISOString() }),
      heardRecently,
      NOW,
    );
    expect(verdict.failing).toBe(false);
  });

  it('calls a webhook silent past the 8-hour heartbeat and an hour, counting heartbeats and its creation', () => {
    const limit = ASANA_HEARTBEAT_INTERVAL_MS + SILENCE_MARGIN_MS;
    const quiet = { ...heardRecently, lastDeliveryAt: ago(limit + 1), createdAt: ago(limit + 5) };
    const verdict = judgeWebhook(webhook(), quiet, NOW);
    expect(verdict).toMatchObject({ silent: true });
    expect(verdict.resyncReason).toMatch(/^no delivery or heartbeat from the webhook since /);
    expect(judgeWebhook(webhook(), { ...quiet, lastHeartbeatAt: ago(1000) }, NOW).silent).toBe(false);
    expect(judgeWebhook(webhook(), { ...quiet, lastDeliveryAt: null, createdAt: ago(1000) }, NOW).silent).toBe(false);
    expect(judgeWebhook(webhook(), { ...quiet, silentSince: ago(1000) }, NOW).resyncReason).toBeNull();
  });
});

describe('reportedHealth', () => {
  it('keeps what Asana says of the webhook’s deliveries, not its target or filters', () => {
    const health = reportedHealth(webhook({ last_failure_content: 'x'.repeat(2000) }));
    expect(Object.keys(health).sort()).toEqual([
      'active',
      'delivery_retry_count',
      'failure_deletion_timestamp',
      'last_failure_at',
      'last_failure_content',
      'last_success_at',
      'next_attempt_after',
    ]);
    expect(health.last_failure_content).toHaveLength(500);
  });
});
