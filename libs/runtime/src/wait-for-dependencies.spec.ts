import {
  DependencyUnavailableError,
  shortReason,
  waitForDependencies,
  type StartupDependency,
} from './wait-for-dependencies';

/** A dependency that fails its first `failures` attempts with `error`, then answers. */
function scripted(failures: number, error: () => Error, overrides: Partial<StartupDependency> = {}) {
  let calls = 0;
  const dependency: StartupDependency & { calls: () => number } = {
    name: 'postgres',
    address: '127.0.0.1:5999',
    variable: 'DATABASE_URL',
    attempt: async () => {
      calls += 1;
      if (calls <= failures) throw error();
    },
    calls: () => calls,
    ...overrides,
  };
  return dependency;
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { syscall: 'connect', code: 'ECONNREFUSED' });

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, warn: (line: Record<string, unknown>) => lines.push(line) };
}

describe('waitForDependencies', () => {
  it('logs one short line per failed attempt and resolves once the dependency answers', async () => {
    const logger = recordingLogger();
    const postgres = scripted(2, refused);

    await waitForDependencies([postgres], { attempts: 5, intervalMs: 10, logger });

    expect(postgres.calls()).toBe(3);
    expect(logger.lines).toEqual([
      {
        msg: 'waiting for postgres at 127.0.0.1:5999 (attempt 1/5): connect ECONNREFUSED',
        dependency: 'postgres',
        attempt: 1,
      },
      {
        msg: 'waiting for postgres at 127.0.0.1:5999 (attempt 2/5): connect ECONNREFUSED',
        dependency: 'postgres',
        attempt: 2,
      },
    ]);
  });

  it('gives up after the last attempt with one error naming what, where, why and what to check', async () => {
    const logger = recordingLogger();
    const postgres = scripted(Infinity, refused);

    const error = await waitForDependencies([postgres], { attempts: 3, intervalMs: 10, logger }).catch(
      (caught: unknown) => caught,
    );

    expect(postgres.calls()).toBe(3);
    // The last attempt has no "waiting" line: the error says it instead.
    expect(logger.lines).toHaveLength(2);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toMatch(
      /^postgres at 127\.0\.0\.1:5999 did not answer after 3 attempts over 0\.\d s \(connect ECONNREFUSED\); check that it runs and DATABASE_URL$/,
    );
  });

  it('spaces attempts by the interval, measured from the start of each attempt', async () => {
    const started = Date.now();

    await waitForDependencies([scripted(3, refused)], { attempts: 4, intervalMs: 100 });

    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
  });

  it('counts an attempt that gets no answer as failed once its time is up', async () => {
    const silent: StartupDependency = {
      name: 'kafka',
      address: '10.0.0.1:9092',
      variable: 'KAFKA_BROKERS',
      attempt: () => new Promise<void>(() => undefined),
    };

    const error = await waitForDependencies([silent], { attempts: 2, intervalMs: 10 }).catch((e: unknown) => e);

    expect((error as Error).message).toMatch(/\(no answer within 1000 ms\); check that it runs and KAFKA_BROKERS$/);
  });

  it('waits for every dependency at once and names each that never answered in the one error', async () => {
    const started = Date.now();
    const postgres = scripted(Infinity, refused);
    const kafka = scripted(Infinity, () => new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9999'), {
      name: 'kafka',
      address: '127.0.0.1:9999',
      variable: 'KAFKA_BROKERS',
    });

    const error = await waitForDependencies([postgres, kafka], { attempts: 3, intervalMs: 200 }).catch(
      (e: unknown) => e,
    );

    // About 400 ms for each alone; one after the other would take 800.
    expect(Date.now() - started).toBeLessThan(700);
    expect((error as DependencyUnavailableError).failures.map((f) => f.dependency)).toEqual(['postgres', 'kafka']);
    expect((error as Error).message).toContain('check that it runs and DATABASE_URL; kafka at 127.0.0.1:9999');
  });

  it('names only the dependencies that never answered', async () => {
    const kafka = scripted(Infinity, refused, { name: 'kafka', address: '127.0.0.1:9999', variable: 'KAFKA_BROKERS' });

    const error = await waitForDependencies([scripted(1, refused), kafka], { attempts: 2, intervalMs: 10 }).catch(
      (e: unknown) => e,
    );

    expect((error as DependencyUnavailableError).failures.map((f) => f.dependency)).toEqual(['kafka']);
  });

  it('never logs a secret the dependency declares, even when a driver quotes it', async () => {
    const logger = recordingLogger();
    const leaky = scripted(Infinity, () => new Error('bad URL postgres://app:hunter2@db/x'), { secrets: ['hunter2'] });

    const error = await waitForDependencies([leaky], { attempts: 2, intervalMs: 10, logger }).catch((e: unknown) => e);

    expect(JSON.stringify(logger.lines)).not.toContain('hunter2');
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).toContain('postgres://app:***@db/x');
  });
});

describe('shortReason', () => {
  it("gives a system error's call and code without the address the caller already states", () => {
    expect(shortReason(refused())).toBe('connect ECONNREFUSED');
  });

  it('reaches the root cause through wrappers such as kafkajs retry errors', () => {
    const root = new Error('Connection error: getaddrinfo ENOTFOUND kafka.invalid');
    const wrapper = new Error('Connection error: getaddrinfo ENOTFOUND kafka.invalid', { cause: root });
    expect(shortReason(new Error('retries exceeded', { cause: wrapper }))).toBe('getaddrinfo ENOTFOUND kafka.invalid');
    expect(shortReason(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9999'))).toBe(
      'connect ECONNREFUSED',
    );
  });

  it('keeps a server error message whole, on one line', () => {
    expect(shortReason(new Error('password authentication failed\nfor user "postgres"'))).toBe(
      'password authentication failed for user "postgres"',
    );
  });

  it('falls back to the code of an error with no message (a connection tried on every address)', () => {
    expect(shortReason(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
  });
});
