import { SeededRandom } from '../control/random';
import { FaultyWebhookTransport, type WebhookFaultRates } from './faulty-webhook-transport';
import type { OutgoingPost, ReceiverAnswer, WebhookTransport } from './webhook-transport';

const TIMING = { holdMs: 500, duplicateDelayMs: 200 };

/** Records what reaches the receiver, in order, and answers 200 (or what `answer` says). */
class RecordingTransport implements WebhookTransport {
  readonly sent: string[] = [];
  answer: ReceiverAnswer = { status: 200, headers: {}, body: 'ok' };
  destroyed = false;

  post(request: OutgoingPost): Promise<ReceiverAnswer> {
    this.sent.push(`${request.url} ${request.body.toString()}`);
    return Promise.resolve(this.answer);
  }

  onModuleDestroy(): void {
    this.destroyed = true;
  }
}

const delivery = (body: string, url = 'http://127.0.0.1:9/hook'): OutgoingPost => ({
  url,
  headers: { 'Content-Type': 'application/json', 'X-Hook-Signature': 'f'.repeat(64) },
  body: Buffer.from(body),
  timeoutMs: 1000,
});
const handshake = (url = 'http://127.0.0.1:9/hook'): OutgoingPost => ({
  url,
  headers: { 'X-Hook-Secret': 'a'.repeat(64) },
  body: Buffer.alloc(0),
  timeoutMs: 1000,
});

function faulty(rates: Partial<WebhookFaultRates>, seed = 7) {
  const inner = new RecordingTransport();
  const transport = new FaultyWebhookTransport(
    inner,
    new SeededRandom(seed),
    { drop: 0, duplicate: 0, reorder: 0, ...rates },
    TIMING,
  );
  return { inner, transport };
}

describe('FaultyWebhookTransport', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('passes everything through, answers included, at rates of 0', async () => {
    const { inner, transport } = faulty({});
    inner.answer = { status: 500, headers: {}, body: 'boom' };
    for (const body of ['1', '2', '3']) expect(await transport.post(delivery(body))).toEqual(inner.answer);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(inner.sent).toEqual(['1', '2', '3'].map((b) => `http://127.0.0.1:9/hook ${b}`));
    expect(transport.stats()).toEqual({ drop: 0, duplicate: 0, reorder: 0, dropped: 0, duplicated: 0, reordered: 0 });
  });

  it('never touches a handshake, whatever the rates', async () => {
    const { inner, transport } = faulty({ drop: 1, duplicate: 1, reorder: 1 });
    await transport.post(handshake());
    await jest.advanceTimersByTimeAsync(5_000);
    expect(inner.sent).toEqual(['http://127.0.0.1:9/hook ']);
  });

  it('drops: answers 200 and sends nothing', async () => {
    const { inner, transport } = faulty({ drop: 1 });
    expect((await transport.post(delivery('lost'))).status).toBe(200);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(inner.sent).toEqual([]);
    expect(transport.stats().dropped).toBe(1);
  });

  it('duplicates: the same bytes arrive twice, the copy after the delay', async () => {
    const { inner, transport } = faulty({ duplicate: 1 });
    await transport.post(delivery('twice'));
    expect(inner.sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(TIMING.duplicateDelayMs);
    expect(inner.sent).toEqual(['http://127.0.0.1:9/hook twice', 'http://127.0.0.1:9/hook twice']);
    expect(transport.stats().duplicated).toBe(1);
  });

  it('reorders: a held delivery arrives right after the next one to its target', async () => {
    const { inner, transport } = faulty({ reorder: 1 });
    expect((await transport.post(delivery('first'))).status).toBe(200);
    expect(inner.sent).toEqual([]);
    // One delivery is held per target at a time, so the next one goes out, and the held one after it.
    await transport.post(delivery('second'));
    expect(inner.sent).toEqual(['http://127.0.0.1:9/hook second', 'http://127.0.0.1:9/hook first']);
    expect(transport.stats().reordered).toBe(1);
  });

  it('sends a held delivery after holdMs when nothing overtakes it', async () => {
    const { inner, transport } = faulty({ reorder: 1 });
    await transport.post(delivery('alone'));
    await jest.advanceTimersByTimeAsync(TIMING.holdMs - 1);
    expect(inner.sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(inner.sent).toEqual(['http://127.0.0.1:9/hook alone']);
  });

  it('holds back per target: another target does not release it', async () => {
    const { inner, transport } = faulty({ reorder: 1 });
    await transport.post(delivery('a1', 'http://127.0.0.1:9/a'));
    await transport.post(delivery('b1', 'http://127.0.0.1:9/b'));
    expect(inner.sent).toEqual([]);
    await transport.post(delivery('a2', 'http://127.0.0.1:9/a'));
    expect(inner.sent).toEqual(['http://127.0.0.1:9/a a2', 'http://127.0.0.1:9/a a1']);
  });

  it('strikes at about its rate, and the same seed strikes the same deliveries', async () => {
    const run = async (seed: number) => {
      const { inner, transport } = faulty({ drop: 0.25 }, seed);
      for (let i = 0; i < 400; i += 1) await transport.post(delivery(String(i)));
      return inner.sent;
    };
    const first = await run(11);
    expect(400 - first.length).toBeGreaterThan(60);
    expect(400 - first.length).toBeLessThan(140);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
  });

  it('changes rates at run time, and on destroy drops what it holds and ends the inner transport', async () => {
    const { inner, transport } = faulty({});
    transport.setRates({ drop: 0, duplicate: 0, reorder: 1 });
    await transport.post(delivery('held'));
    transport.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(inner.sent).toEqual([]);
    expect(inner.destroyed).toBe(true);
    expect(transport.stats()).toMatchObject({ reorder: 1, reordered: 1 });
  });
});
