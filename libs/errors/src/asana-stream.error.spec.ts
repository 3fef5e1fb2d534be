import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsanaStreamError, dispositionAfterRetries, isAsanaStreamError } from './asana-stream.error';
import { classifyError } from './classify-error';
import { DECISIONS, ERROR_CODES, type Disposition, type ErrorCode } from './error-codes';

describe('the decision table', () => {
  it.each(ERROR_CODES.map((code) => [code, DECISIONS[code].disposition]))(
    '%s: %s, retriable exactly when the disposition is retry',
    (code, disposition) => {
      const error = new AsanaStreamError(code, 'm');
      expect(error.disposition).toBe(disposition);
      expect(error.retriable).toBe(disposition === 'retry');
    },
  );

  it('has the three dispositions, and the reviewer’s cases where they belong', () => {
    const byDisposition = (wanted: Disposition) => ERROR_CODES.filter((c) => DECISIONS[c].disposition === wanted);
    expect(byDisposition('halt')).toEqual(
      expect.arrayContaining(['UNAUTHORIZED', 'CONFIG_INVALID', 'PRODUCER_FENCED', 'DATABASE_NOT_READY', 'INTERNAL']),
    );
    expect(byDisposition('dead-letter')).toEqual(
      expect.arrayContaining(['INVALID_MESSAGE', 'MESSAGE_TOO_LARGE', 'DATA_REJECTED', 'REJECTED']),
    );
    expect(byDisposition('retry')).toEqual(
      expect.arrayContaining(['UNAVAILABLE', 'RATE_LIMITED', 'KAFKA_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'UNKNOWN']),
    );
  });

  it('is described, code by code, in docs/architecture.md', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/architecture.md'), 'utf8');
    const section = /^## Errors\b.*\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1] ?? '';
    expect(ERROR_CODES.filter((code) => !section.includes(`\`${code}\``))).toEqual([]);
  });
});

describe('AsanaStreamError', () => {
  it('lets the thrower move a code between retry and dead-letter, never out of halt', () => {
    expect(new AsanaStreamError('MALFORMED_RESPONSE', 'm', { retriable: false }).disposition).toBe('dead-letter');
    expect(new AsanaStreamError('REJECTED', 'm', { retriable: true }).disposition).toBe('retry');
    expect(new AsanaStreamError('UNAUTHORIZED', 'm', { retriable: true }).disposition).toBe('halt');
    expect(new AsanaStreamError('CONFIG_INVALID', 'm', { retriable: false }).disposition).toBe('halt');
  });

  it('keeps its cause, without one when none was given', () => {
    const cause = new Error('inner');
    expect(new AsanaStreamError('UNKNOWN', 'm', { cause }).cause).toBe(cause);
    expect('cause' in new AsanaStreamError('UNKNOWN', 'm')).toBe(false);
  });

  it('keeps code, disposition and details as enumerable fields', () => {
    const error = new AsanaStreamError('DATA_REJECTED', 'm', { details: { sqlState: '22P02', table: undefined } });
    expect(Object.keys(error)).toEqual(expect.arrayContaining(['code', 'disposition', 'retriable', 'details']));
    expect(error.details).toEqual({ sqlState: '22P02' });
  });

  it('logs code, disposition, message, details and the names and codes of its causes, but no cause message', () => {
    const secret = 'postgres://app:hunter2@db:5432/asana';
    const inner = Object.assign(new Error(`connect ECONNREFUSED ${secret}`), { code: 'ECONNREFUSED' });
    const error = new AsanaStreamError('DATABASE_UNAVAILABLE', 'Postgres does not answer', {
      cause: new Error('pool failed', { cause: inner }),
      details: { sqlState: null },
    });
    const logged = JSON.stringify({ error });
    expect(JSON.parse(logged)).toEqual({
      error: {
        name: 'AsanaStreamError',
        code: 'DATABASE_UNAVAILABLE',
        disposition: 'retry',
        retriable: true,
        message: 'Postgres does not answer',
        details: { sqlState: null },
        causes: [{ name: 'Error' }, { name: 'Error', code: 'ECONNREFUSED' }],
      },
    });
    expect(logged).not.toContain('hunter2');
  });

  it('stops listing causes at a cycle or after five', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(new AsanaStreamError('UNKNOWN', 'm', { cause: a }).toJSON().causes).toHaveLength(2);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 10; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(new AsanaStreamError('UNKNOWN', 'm', { cause: deep }).toJSON().causes).toHaveLength(5);
  });

  it('is recognised when it comes from another copy of this library', () => {
    let Other: typeof AsanaStreamError | undefined;
    jest.isolateModules(() => {
      Other = jest.requireActual<{ AsanaStreamError: typeof AsanaStreamError }>(
        './asana-stream.error',
      ).AsanaStreamError;
    });
    const foreign = new Other!('RATE_LIMITED', 'from elsewhere');
    expect(foreign).not.toBeInstanceOf(AsanaStreamError);
    expect(isAsanaStreamError(foreign)).toBe(true);
    expect(classifyError(foreign)).toBe(foreign);
    expect(isAsanaStreamError(new Error('plain'))).toBe(false);
    expect(isAsanaStreamError({ code: 'RATE_LIMITED' })).toBe(false);
  });
});

describe('dispositionAfterRetries', () => {
  it.each<[ErrorCode, boolean | undefined, 'dead-letter' | 'halt']>([
    ['UNKNOWN', undefined, 'dead-letter'],
    ['KAFKA_UNAVAILABLE', undefined, 'halt'],
    ['DATABASE_UNAVAILABLE', undefined, 'halt'],
    ['RATE_LIMITED', undefined, 'halt'],
    ['DATA_REJECTED', undefined, 'dead-letter'],
    ['UNAUTHORIZED', undefined, 'halt'],
    ['REJECTED', true, 'dead-letter'],
  ])('%s (retriable override %p): %s once retries run out', (code, retriable, want) => {
    expect(dispositionAfterRetries(new AsanaStreamError(code, 'm', { retriable }))).toBe(want);
  });
});
