import type { AsanaWebhook } from '@asana-stream/asana';
import { classifyError } from '@asana-stream/errors';
import { watchedResourceType } from './watched-resource-type';

const R = '1100';

function sources(webhook: Pick<AsanaWebhook, 'resource'> | null) {
  const calls: string[] = [];
  return {
    calls,
    sources: {
      getWebhook: (gid: string) => {
        calls.push(`GET /webhooks/${gid}`);
        return Promise.resolve(webhook);
      },
      remember: (gid: string, type: string) => {
        calls.push(`remember ${gid} ${type}`);
        return Promise.resolve();
      },
    },
  };
}

describe('watchedResourceType', () => {
  it.each(['project', 'task', 'workspace', 'goal'])(
    'takes a kept type (%s) as it is, asking Asana nothing',
    async (type) => {
      const { calls, sources: from } = sources(null);
      await expect(watchedResourceType({ resourceGid: R, resourceType: type, webhookGid: '9' }, from)).resolves.toBe(
        type,
      );
      expect(calls).toEqual([]);
    },
  );

  it('learns a missing type from the webhook in Asana and keeps it', async () => {
    const { calls, sources: from } = sources({ resource: { gid: R, resource_type: 'task' } });
    await expect(watchedResourceType({ resourceGid: R, resourceType: null, webhookGid: '9' }, from)).resolves.toBe(
      'task',
    );
    expect(calls).toEqual(['GET /webhooks/9', `remember ${R} task`]);
  });

  it('leaves the type unknown (null) with no webhook to ask', async () => {
    const { calls, sources: from } = sources(null);
    await expect(watchedResourceType({ resourceGid: R, resourceType: null, webhookGid: null }, from)).resolves.toBe(
      null,
    );
    expect(calls).toEqual([]);
  });

  it('fails, to be tried again, while Asana shows no webhook to learn it from', async () => {
    const { calls, sources: from } = sources(null);
    const failure = await watchedResourceType({ resourceGid: R, resourceType: null, webhookGid: '9' }, from).catch(
      (error: unknown) => error,
    );
    expect(classifyError(failure)).toMatchObject({ retriable: true, message: expect.stringContaining('webhook 9') });
    expect(calls).toEqual(['GET /webhooks/9']);
  });
});
