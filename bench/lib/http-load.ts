import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { summariseLatencies, type LatencySummary } from './stats';

/** One POST the load generators send: a path, headers and a body. */
export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface MaxRateResult {
  /** 2xx answers per second over the measurement. */
  rate: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
}

/**
 * The highest rate a server sustains, closed-loop: `connections` connections each send a
 * request as soon as the previous one was answered (autocannon, no pipelining), cycling
 * through `requests`. Only 2xx answers count.
 */
export async function measureMaxRate(
  origin: string,
  requests: readonly LoadRequest[],
  { connections, durationS }: { connections: number; durationS: number },
): Promise<MaxRateResult> {
  const result = await autocannon({
    url: origin,
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 30,
    requests: requests.map(({ path, headers, body }) => ({ method: 'POST', path, headers, body })),
  });
  return {
    rate: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
  };
}

export interface OpenLoopResult {
  latency: LatencySummary;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Arrivals per second actually achieved. */
  achievedRate: number;
  /** How late the generator itself sent its latest request (a busy generator shows here). */
  maxSendLagMs: number;
}

interface Answer {
  status: number;
  error?: string;
}

/** One POST over `agent`; resolves when the whole answer has arrived, never rejects. */
function post(agent: Agent, origin: URL, { path, headers, body }: LoadRequest): Promise<Answer> {
  return new Promise((done) => {
    const req = request(
      {
        agent,
        host: origin.hostname,
        port: origin.port,
        method: 'POST',
        path,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        res.resume();
        res.once('end', () => done({ status: res.statusCode ?? 0 }));
        res.once('error', (error) => done({ status: 0, error: error.message }));
      },
    );
    req.once('error', (error) => done({ status: 0, error: error.message }));
    req.end(body);
  });
}

const keepAliveAgent = (sockets: number) =>
  new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'fifo' });

/**
 * Open-loop load: requests arrive at a fixed `rate` whatever the server does (Asana does not
 * wait for us), over at most `connections` keep-alive connections; a request finding them all
 * busy waits for one. Each latency runs from the request's *intended* send time to the end of
 * its answer, so a server that falls behind shows its queueing (no coordinated omission).
 * Failed requests count with their latency too.
 */
export async function measureOpenLoop(
  origin: string,
  requests: readonly LoadRequest[],
  { rate, durationS, connections }: { rate: number; durationS: number; connections: number },
): Promise<OpenLoopResult> {
  if (!(rate > 0)) throw new Error(`open-loop rate must be positive, got ${rate}`);
  const agent = keepAliveAgent(connections);
  const url = new URL(origin);
  const total = Math.max(1, Math.round(rate * durationS));
  const intervalMs = 1000 / rate;
  const latencies = new Array<number>(total);
  const answers: Promise<void>[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let maxSendLagMs = 0;
  const start = performance.now();
  try {
    for (let i = 0; i < total; i++) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(Math.floor(wait));
      const sentAt = performance.now();
      maxSendLagMs = Math.max(maxSendLagMs, sentAt - due);
      // Timed from the intended send time; a request sent a little early (timers fire to the
      // millisecond) from when it was actually sent, so it gains nothing.
      const from = Math.min(due, sentAt);
      answers.push(
        post(agent, url, requests[i % requests.length]).then((answer) => {
          latencies[i] = performance.now() - from;
          if (answer.error) errors++;
          else if (answer.status >= 200 && answer.status < 300) ok++;
          else non2xx++;
        }),
      );
    }
    const sendingMs = performance.now() - start + intervalMs;
    await Promise.all(answers);
    return {
      latency: summariseLatencies(latencies),
      sent: total,
      ok,
      non2xx,
      errors,
      achievedRate: total / (sendingMs / 1000),
      maxSendLagMs,
    };
  } finally {
    agent.destroy();
  }
}

export interface BurstResult {
  latency: LatencySummary;
  ok: number;
  non2xx: number;
  errors: number;
}

/**
 * `requests.length` requests at once, each on its own connection, opened beforehand (a GET of
 * `warmPath` on every one) so the figure is the server's handling of the burst, not TCP accept
 * queues. Latencies run from the instant the burst starts.
 */
export async function measureBurst(
  origin: string,
  requests: readonly LoadRequest[],
  warmPath: string,
): Promise<BurstResult> {
  const concurrency = requests.length;
  const agent = keepAliveAgent(concurrency);
  const url = new URL(origin);
  try {
    await Promise.all(
      Array.from(
        { length: concurrency },
        () =>
          new Promise<void>((done, fail) => {
            const req = request({ agent, host: url.hostname, port: url.port, path: warmPath }, (res) => {
              res.resume();
              res.once('end', () => done());
            });
            req.once('error', fail);
            req.end();
          }),
      ),
    );
    const start = performance.now();
    const outcomes = await Promise.all(
      requests.map((req) => post(agent, url, req).then((answer) => ({ answer, ms: performance.now() - start }))),
    );
    return {
      latency: summariseLatencies(outcomes.map((o) => o.ms)),
      ok: outcomes.filter((o) => !o.answer.error && o.answer.status >= 200 && o.answer.status < 300).length,
      non2xx: outcomes.filter((o) => !o.answer.error && (o.answer.status < 200 || o.answer.status >= 300)).length,
      errors: outcomes.filter((o) => o.answer.error).length,
    };
  } finally {
    agent.destroy();
  }
}
