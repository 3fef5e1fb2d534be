import type { CreatedWebhook } from './asana-client';
import { registerWebhook, WebhookRegistrationError, type SubscriptionStore } from './webhook-registration';

const SECRET = 'the-secret-asana-returned-0123456789';
const CREATED = {
  webhook: { gid: '9001', resource: { gid: '1100', resource_type: 'task' } },
  secret: SECRET,
} as CreatedWebhook;

/** A store and an Asana whose calls are recorded; `secretOf` answers as the case says. */
function fakes(secretOf: SubscriptionStore['secretOf']) {
  const calls: string[] = [];
  const store: SubscriptionStore = {
    insertPending: async (id, _resource, _target, filters) =>
      void calls.push(`insertPending ${id}${filters ? ` ${JSON.stringify(filters)}` : ''}`),
    secretOf: async (id) => {
      calls.push(`secretOf ${id}`);
      return secretOf(id);
    },
    activate: async (id, gid, type) => void calls.push(`activate ${id} ${gid} ${type}`),
    markDeleted: async (id) => void calls.push(`markDeleted ${id}`),
  };
  const asana = {
    createWebhook: async (_resource: string, _target: string, filters?: unknown) => {
      calls.push(`createWebhook${filters === undefined ? '' : ` ${JSON.stringify(filters)}`}`);
      return CREATED;
    },
    deleteWebhook: async (gid: string) => void calls.push(`deleteWebhook ${gid}`),
  };
  return { calls, store, asana };
}

describe('registerWebhook', () => {
  it('activates the subscription, with the type of resource Asana says the webhook watches, when the secret ingest stored (decrypted) equals the one in Asana’s answer', async () => {
    const { calls, store, asana } = fakes(async () => SECRET);
    const registered = await registerWebhook(asana, store, '1100', 'http://ingest.test/');
    expect(registered.targetUrl).toBe(`http://ingest.test/webhooks/asana/${registered.subscriptionId}`);
    expect(registered.resourceType).toBe('task');
    expect(calls.at(-1)).toBe(`activate ${registered.subscriptionId} 9001 task`);
  });

  it('sends no filters when given none (or an empty list), and keeps none', async () => {
    for (const filters of [undefined, null, []]) {
      const { calls, store, asana } = fakes(async () => SECRET);
      const registered = await registerWebhook(asana, store, '1100', 'http://ingest.test', { filters });
      expect(calls.slice(0, 2)).toEqual([`insertPending ${registered.subscriptionId}`, 'createWebhook']);
    }
  });

  it('sends the filters with the create, and keeps them with the subscription before Asana’s handshake', async () => {
    const { calls, store, asana } = fakes(async () => SECRET);
    const filters = [
      { resource_type: 'project', action: 'added' },
      { resource_type: 'task', resource_subtype: 'milestone', action: 'changed', fields: ['due_on'] },
    ];
    const said: string[] = [];
    const registered = await registerWebhook(asana, store, '1100', 'http://ingest.test', {
      filters,
      say: (line) => said.push(line),
    });
    const json = JSON.stringify(filters);
    expect(calls.slice(0, 2)).toEqual([`insertPending ${registered.subscriptionId} ${json}`, `createWebhook ${json}`]);
    expect(said[0]).toContain(`(filters ${json})`);
  });

  it('deletes the webhook again when the stored secret differs', async () => {
    const { calls, store, asana } = fakes(async () => 'someone-elses-secret-0123456789');
    await expect(registerWebhook(asana, store, '1100', 'http://ingest.test')).rejects.toThrow(/differs/);
    expect(calls.slice(-2)).toEqual(['deleteWebhook 9001', expect.stringMatching(/^markDeleted /)]);
  });

  it('deletes the webhook again, saying why, when the stored secret cannot be decrypted here', async () => {
    const unreadable = new Error('sealed with key id k9, which WEBHOOK_SECRET_KEYS does not list');
    const { calls, store, asana } = fakes(async () => Promise.reject(unreadable));
    const failure = await registerWebhook(asana, store, '1100', 'http://ingest.test').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WebhookRegistrationError);
    expect((failure as Error).message).toBe(
      'the handshake secret ingest stored could not be read (webhook deleted again): sealed with key id k9, which WEBHOOK_SECRET_KEYS does not list',
    );
    expect((failure as Error).cause).toBe(unreadable);
    expect(calls.slice(-2)).toEqual(['deleteWebhook 9001', expect.stringMatching(/^markDeleted /)]);
    expect(calls.some((call) => call.startsWith('activate'))).toBe(false);
  });
});
