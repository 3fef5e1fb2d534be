import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsInt, IsString, Matches, ValidateNested, validateSync } from 'class-validator';
import {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSServerDoesNotSupportApiKey,
} from 'kafkajs';
import { DatabaseError } from 'pg';
import secureJson from 'secure-json-parse';
import { QueryFailedError } from 'typeorm';
import { AsanaStreamError, dispositionAfterRetries } from './asana-stream.error';
import { classifyError } from './classify-error';
import { dispositionOf, type ErrorCode } from './error-codes';

/** kafkajs' own table of protocol errors and its retrier: the errors its producer and consumer throw. */
const { errorCodes, createErrorFromCode } = jest.requireActual<{
  errorCodes: { type: string; code: number; retriable: boolean }[];
  createErrorFromCode(code: number): Error;
}>('kafkajs/src/protocol/error');
const createRetry =
  jest.requireActual<
    (options: { retries: number; initialRetryTime?: number }) => (fn: () => Promise<unknown>) => Promise<unknown>
  >('kafkajs/src/retry');

const protocolError = (type: string): Error => {
  const entry = errorCodes.find((e) => e.type === type);
  if (!entry) throw new Error(`kafkajs has no protocol error ${type}`);
  return createErrorFromCode(entry.code);
};

/** What kafkajs' retrier rejects with once `thrown` is thrown and no retry is left. */
async function afterKafkajsRetries(thrown: Error): Promise<unknown> {
  return createRetry({ retries: 0, initialRetryTime: 1 })(() => Promise.reject(thrown)).then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A pg DatabaseError as pg-protocol's parser fills it from the server's ErrorResponse. */
function databaseError(code: string, message: string, fields: Partial<DatabaseError> = {}): DatabaseError {
  return Object.assign(new DatabaseError(message, 100, 'error'), { severity: 'ERROR', code, ...fields });
}

/** A Node system error, as net.connect or dns.lookup reject with. */
const systemError = (code: string, message = `connect ${code} 127.0.0.1:5432`) =>
  Object.assign(new Error(message), { code, errno: -1, syscall: 'connect' });

/** `new Class(...args)` for the kafkajs classes whose typings declare no constructor arguments. */
const construct = (Class: unknown, ...args: unknown[]) => new (Class as new (...a: unknown[]) => Error)(...args);

function expectClassified(error: unknown, code: ErrorCode) {
  const classified = classifyError(error);
  expect(classified).toBeInstanceOf(AsanaStreamError);
  expect(classified.code).toBe(code);
  expect(classified.disposition).toBe(dispositionOf(code));
  if (error !== undefined && !(error instanceof AsanaStreamError)) expect(classified.cause).toBe(error);
  return classified;
}

describe('classifyError', () => {
  describe('our own errors', () => {
    it('returns an AsanaStreamError as it is, subclasses and overrides included', () => {
      const own = new AsanaStreamError('MALFORMED_RESPONSE', 'm', { retriable: false });
      expect(classifyError(own)).toBe(own);
      expect(classifyError(own).disposition).toBe('dead-letter');
    });

    it('keeps an AsanaStreamError found as a cause, with its override', () => {
      const wrapped = new Error('while publishing', {
        cause: new AsanaStreamError('REJECTED', 'm', { retriable: true }),
      });
      const classified = classifyError(wrapped);
      expect([classified.code, classified.disposition]).toEqual(['REJECTED', 'retry']);
      expect(classified.cause).toBe(wrapped);
    });
  });

  describe('kafkajs', () => {
    it.each<[string, ErrorCode]>([
      ['MESSAGE_TOO_LARGE', 'MESSAGE_TOO_LARGE'],
      ['RECORD_LIST_TOO_LARGE', 'MESSAGE_TOO_LARGE'],
      ['INVALID_RECORD', 'INVALID_MESSAGE'],
      ['INVALID_TIMESTAMP', 'INVALID_MESSAGE'],
      ['CORRUPT_MESSAGE', 'INVALID_MESSAGE'],
      ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'PRODUCER_FENCED'],
      ['DUPLICATE_SEQUENCE_NUMBER', 'PRODUCER_FENCED'],
      ['UNKNOWN_PRODUCER_ID', 'PRODUCER_FENCED'],
      ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'],
      ['INVALID_PRODUCER_ID_MAPPING', 'PRODUCER_FENCED'],
      ['REBALANCE_IN_PROGRESS', 'KAFKA_REBALANCING'],
      ['NOT_COORDINATOR_FOR_GROUP', 'KAFKA_REBALANCING'],
      ['ILLEGAL_GENERATION', 'KAFKA_REBALANCING'],
      ['UNKNOWN_MEMBER_ID', 'KAFKA_REBALANCING'],
      ['TOPIC_AUTHORIZATION_FAILED', 'UNAUTHORIZED'],
      ['GROUP_AUTHORIZATION_FAILED', 'UNAUTHORIZED'],
      ['SASL_AUTHENTICATION_FAILED', 'UNAUTHORIZED'],
      ['UNSUPPORTED_VERSION', 'INTERNAL'],
      ['INVALID_REQUIRED_ACKS', 'INTERNAL'],
      ['INVALID_TOPIC_EXCEPTION', 'INTERNAL'],
      ['FENCED_INSTANCE_ID', 'CONFIG_INVALID'],
      ['NOT_LEADER_FOR_PARTITION', 'KAFKA_UNAVAILABLE'],
      ['LEADER_NOT_AVAILABLE', 'KAFKA_UNAVAILABLE'],
      ['UNKNOWN_TOPIC_OR_PARTITION', 'KAFKA_UNAVAILABLE'],
      ['REQUEST_TIMED_OUT', 'KAFKA_UNAVAILABLE'],
      ['NOT_ENOUGH_REPLICAS', 'KAFKA_UNAVAILABLE'],
      ['BROKER_NOT_AVAILABLE', 'KAFKA_UNAVAILABLE'],
      ['UNKNOWN', 'UNKNOWN'],
      ['OFFSET_OUT_OF_RANGE', 'UNKNOWN'],
    ])('protocol error %s: %s', (type, code) => {
      const error = protocolError(type);
      const classified = expectClassified(error, code);
      expect(classified.details).toMatchObject({ kafkaError: 'KafkaJSProtocolError', kafkaType: type });
    });

    it('classifies every protocol error kafkajs knows; one it calls retriable is KAFKA_UNAVAILABLE unless decided here', () => {
      const decidedHere = new Set(['CORRUPT_MESSAGE', 'NOT_COORDINATOR_FOR_GROUP']);
      for (const { type, code, retriable } of errorCodes) {
        const classified = classifyError(createErrorFromCode(code));
        expect(classified.details.kafkaType).toBe(type);
        if (retriable && !decidedHere.has(type)) expect([type, classified.code]).toEqual([type, 'KAFKA_UNAVAILABLE']);
      }
      expect(classifyError(createErrorFromCode(12_345)).code).toBe('UNKNOWN');
    });

    it.each<[string, Error, ErrorCode]>([
      [
        'KafkaJSConnectionError',
        new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { broker: 'b:9092' }),
        'KAFKA_UNAVAILABLE',
      ],
      [
        'KafkaJSRequestTimeoutError',
        new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'),
        'KAFKA_UNAVAILABLE',
      ],
      [
        'KafkaJSSASLAuthenticationError',
        construct(KafkaJSSASLAuthenticationError, 'SASL PLAIN authentication failed'),
        'UNAUTHORIZED',
      ],
      ['KafkaJSServerDoesNotSupportApiKey', new KafkaJSServerDoesNotSupportApiKey('not supported'), 'INTERNAL'],
      ['a plain retriable KafkaJSError', new KafkaJSError('The producer is disconnected'), 'KAFKA_UNAVAILABLE'],
      ['a plain KafkaJSNonRetriableError', new KafkaJSNonRetriableError('Invalid topic'), 'UNKNOWN'],
    ])('%s', (_label, error, code) => {
      expectClassified(error, code);
    });

    it("keeps a KafkaJSConnectionError's network code", () => {
      const refused = new KafkaJSConnectionError('Connection error', { broker: 'b:9092', code: 'ECONNREFUSED' });
      const classified = expectClassified(refused, 'KAFKA_UNAVAILABLE');
      expect(classified.details).toMatchObject({ kafkaError: 'KafkaJSConnectionError', networkCode: 'ECONNREFUSED' });
    });

    it('looks through KafkaJSNumberOfRetriesExceeded to what kafkajs kept retrying', async () => {
      const missing = await afterKafkajsRetries(protocolError('UNKNOWN_TOPIC_OR_PARTITION'));
      expect(missing).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
      const classified = expectClassified(missing, 'KAFKA_UNAVAILABLE');
      expect(classified.details.kafkaType).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      // A topic that stays missing must not empty the input topic into the dead-letter topic.
      expect(dispositionAfterRetries(classified)).toBe('halt');

      const refused = await afterKafkajsRetries(systemError('ECONNREFUSED'));
      expect(expectClassified(refused, 'KAFKA_UNAVAILABLE').details.networkCode).toBe('ECONNREFUSED');
    });

    it('looks through KafkaJSNonRetriableError to the error kafkajs gave up on', async () => {
      const tooLarge = await afterKafkajsRetries(protocolError('MESSAGE_TOO_LARGE'));
      expect(tooLarge).toBeInstanceOf(KafkaJSNonRetriableError);
      expectClassified(tooLarge, 'MESSAGE_TOO_LARGE');
      expectClassified(await afterKafkajsRetries(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER')), 'PRODUCER_FENCED');
      // kafkajs never retries a TypeError: our bug, or the message's; nobody knows yet.
      expectClassified(await afterKafkajsRetries(new TypeError('x is not a function')), 'UNKNOWN');
    });

    it('decides a KafkaJSAggregateError by its gravest error', () => {
      const aggregate = new KafkaJSAggregateError('several failed', [
        protocolError('NOT_LEADER_FOR_PARTITION'),
        protocolError('TOPIC_AUTHORIZATION_FAILED'),
      ]);
      expectClassified(aggregate, 'UNAUTHORIZED');
    });
  });

  describe('Postgres', () => {
    it.each<[string, ErrorCode]>([
      ['08006', 'DATABASE_UNAVAILABLE'], // connection_failure
      ['08001', 'DATABASE_UNAVAILABLE'], // sqlclient_unable_to_establish_sqlconnection
      ['53300', 'DATABASE_UNAVAILABLE'], // too_many_connections
      ['53100', 'DATABASE_UNAVAILABLE'], // disk_full
      ['57P01', 'DATABASE_UNAVAILABLE'], // admin_shutdown
      ['57P02', 'DATABASE_UNAVAILABLE'], // crash_shutdown
      ['57P03', 'DATABASE_UNAVAILABLE'], // cannot_connect_now
      ['58030', 'DATABASE_UNAVAILABLE'], // io_error
      ['40001', 'DATABASE_CONFLICT'], // serialization_failure
      ['40P01', 'DATABASE_CONFLICT'], // deadlock_detected
      ['55P03', 'DATABASE_CONFLICT'], // lock_not_available
      ['23505', 'DATABASE_CONFLICT'], // unique_violation: a concurrent insert of the same gid
      ['57014', 'TIMEOUT'], // query_canceled
      ['22P02', 'DATA_REJECTED'], // invalid_text_representation
      ['22001', 'DATA_REJECTED'], // string_data_right_truncation
      ['22P05', 'DATA_REJECTED'], // untranslatable_character: \u0000 in jsonb
      ['23502', 'DATA_REJECTED'], // not_null_violation
      ['23503', 'DATA_REJECTED'], // foreign_key_violation
      ['23514', 'DATA_REJECTED'], // check_violation
      ['40002', 'DATA_REJECTED'], // transaction_integrity_constraint_violation
      ['3D000', 'DATABASE_NOT_READY'], // invalid_catalog_name
      ['28P01', 'UNAUTHORIZED'], // invalid_password
      ['28000', 'UNAUTHORIZED'], // invalid_authorization_specification
      ['42501', 'UNAUTHORIZED'], // insufficient_privilege
      ['42P01', 'INTERNAL'], // undefined_table
      ['42703', 'INTERNAL'], // undefined_column
      ['42601', 'INTERNAL'], // syntax_error
      ['0A000', 'INTERNAL'], // feature_not_supported
      ['XX000', 'UNKNOWN'], // internal_error
    ])('SQLSTATE %s: %s', (sqlState, code) => {
      const classified = expectClassified(databaseError(sqlState, 'the server said so'), code);
      expect(classified.details.sqlState).toBe(sqlState);
    });

    it("keeps the table and constraint names, and drops a data exception's quoted value", () => {
      const classified = classifyError(
        databaseError('22P02', 'invalid input syntax for type bigint: "secret-value"', {
          table: 'tasks',
          column: 'version',
        }),
      );
      expect(classified.message).toBe('invalid input syntax for type bigint');
      expect(classified.details).toEqual({ sqlState: '22P02', table: 'tasks', column: 'version' });
      const unique = classifyError(
        databaseError('23505', 'duplicate key value violates unique constraint "tasks_pkey"', {
          constraint: 'tasks_pkey',
        }),
      );
      expect(unique.details.constraint).toBe('tasks_pkey');
    });

    it("classifies TypeORM's QueryFailedError by its driverError, and logs none of its parameters", () => {
      const driverError = databaseError('23502', 'null value in column "state" violates not-null constraint');
      const failed = new QueryFailedError('INSERT INTO tasks VALUES ($1)', ['{"secret":"body"}'], driverError);
      const classified = expectClassified(failed, 'DATA_REJECTED');
      expect(classified.details.sqlState).toBe('23502');
      expect(JSON.stringify(classified)).not.toContain('secret');
    });

    it('calls a broken connection under a QueryFailedError the database being unavailable', () => {
      const failed = new QueryFailedError('SELECT 1', [], systemError('ECONNRESET', 'read ECONNRESET'));
      expect(expectClassified(failed, 'DATABASE_UNAVAILABLE').details.networkCode).toBe('ECONNRESET');
    });

    it.each([
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'timeout exceeded when trying to connect',
      'Query read timeout',
      'Client has encountered a connection error and is not queryable',
    ])("recognises pg's own connection failure %p, which has no code", (message) => {
      expectClassified(new Error(message), 'DATABASE_UNAVAILABLE');
    });
  });

  describe('the network and fetch', () => {
    it.each([
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      'EAI_AGAIN',
      'EHOSTUNREACH',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_SOCKET',
    ])('%s: UNAVAILABLE', (code) => {
      expect(expectClassified(systemError(code), 'UNAVAILABLE').details.networkCode).toBe(code);
    });

    it("reads an AggregateError's own code (Node's connect to every address of a name)", () => {
      const aggregate = Object.assign(new AggregateError([systemError('ECONNREFUSED')], ''), { code: 'ECONNREFUSED' });
      expectClassified(aggregate, 'UNAVAILABLE');
    });

    it("classifies fetch's TypeError by its cause, and a cause it does not know as UNAVAILABLE all the same", () => {
      const refused = new TypeError('fetch failed', { cause: systemError('ECONNREFUSED') });
      expect(expectClassified(refused, 'UNAVAILABLE').message).toBe(
        'fetch failed: connect ECONNREFUSED 127.0.0.1:5432',
      );
      expectClassified(new TypeError('fetch failed', { cause: new Error('bad port') }), 'UNAVAILABLE');
      expectClassified(new TypeError('fetch failed'), 'UNAVAILABLE');
      const cut = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
      expectClassified(new TypeError('terminated', { cause: cut }), 'UNAVAILABLE');
    });

    it('leaves any other TypeError UNKNOWN', () => {
      expectClassified(new TypeError("Cannot read properties of undefined (reading 'gid')"), 'UNKNOWN');
    });

    it('classifies DOMException timeouts and aborts', () => {
      expectClassified(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'TIMEOUT');
      expectClassified(AbortSignal.abort().reason, 'ABORTED');
    });
  });

  describe("the message's own faults", () => {
    class Resource {
      @Matches(/^\d+$/)
      gid!: string;
    }
    class Envelope {
      @IsString()
      eventId!: string;

      @IsInt()
      count!: number;

      @ValidateNested()
      @Type(() => Resource)
      resource!: Resource;
    }

    it("classifies class-validator's ValidationError[] as INVALID_MESSAGE, naming the paths but no value", () => {
      const errors = validateSync(
        plainToInstance(Envelope, { eventId: 7, count: 'secret-value', resource: { gid: 'secret-gid' } }),
      );
      const classified = expectClassified(errors, 'INVALID_MESSAGE');
      expect(classified.message).toContain('eventId: eventId must be a string');
      expect(classified.message).toContain('resource.gid: gid must match');
      expect(classified.message).not.toContain('secret');
      expect(classified.details.properties).toEqual(['eventId', 'count', 'resource.gid']);
      expectClassified(errors[0], 'INVALID_MESSAGE');
    });

    it('classifies a JSON.parse failure as INVALID_MESSAGE without quoting the body', () => {
      for (const body of ['{"token": "secret-abc', 'secret-xyz']) {
        let thrown: unknown;
        try {
          JSON.parse(body);
        } catch (error) {
          thrown = error;
        }
        const classified = expectClassified(thrown, 'INVALID_MESSAGE');
        expect(classified.message).toMatch(/^the message is not acceptable JSON/);
        expect(JSON.stringify(classified)).not.toContain('secret');
      }
    });

    it("keeps secure-json-parse's reason: a __proto__ key", () => {
      let thrown: unknown;
      try {
        secureJson.parse('{"__proto__": {"polluted": true}}', undefined, { protoAction: 'error' });
      } catch (error) {
        thrown = error;
      }
      expect(expectClassified(thrown, 'INVALID_MESSAGE').message).toContain('forbidden prototype property');
    });

    it('classifies the RangeError of a body nested too deeply to walk as INVALID_MESSAGE', () => {
      let deep: unknown = {};
      for (let i = 0; i < 200_000; i++) deep = { child: deep };
      const depth = (value: unknown): number =>
        typeof value === 'object' && value !== null ? 1 + depth((value as { child?: unknown }).child) : 0;
      let thrown: unknown;
      try {
        depth(deep);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RangeError);
      expectClassified(thrown, 'INVALID_MESSAGE');
    });

    it('leaves another RangeError UNKNOWN', () => {
      let thrown: unknown;
      try {
        new Date(Number.NaN).toISOString();
      } catch (error) {
        thrown = error;
      }
      expectClassified(thrown, 'UNKNOWN');
    });
  });

  describe('everything else', () => {
    it('is UNKNOWN: retried, and dead-lettered once retries run out', () => {
      const classified = expectClassified(new Error('boom'), 'UNKNOWN');
      expect(classified.retriable).toBe(true);
      expect(classified.message).toBe('Error: boom');
      expect(dispositionAfterRetries(classified)).toBe('dead-letter');
    });

    it('masks credentials in a message it copies', () => {
      const classified = classifyError(new Error('GET https://user:hunter2@example.com with Bearer 0/abc failed'));
      expect(classified.message).toBe('Error: GET https://***@example.com with Bearer *** failed');
    });

    it.each([[undefined], [null], [42], ['a string'], [Symbol('s')], [[]], [[1, 2]], [{}]])('accepts %p', (value) => {
      expect(classifyError(value).code).toBe('UNKNOWN');
    });

    it('decides by a wrapped cause it knows, and stops at a cycle or a deep chain', () => {
      expectClassified(new Error('publish failed', { cause: protocolError('MESSAGE_TOO_LARGE') }), 'MESSAGE_TOO_LARGE');
      expectClassified(new Error('outer', { cause: new Error('inner') }), 'UNKNOWN');
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      Object.assign(a, { cause: b });
      expectClassified(a, 'UNKNOWN');
      let deep: Error = systemError('ECONNREFUSED');
      for (let i = 0; i < 20; i++) deep = new Error(`level ${i}`, { cause: deep });
      expectClassified(deep, 'UNKNOWN');
    });

    it('decides an AggregateError by its gravest error', () => {
      const mixed = new AggregateError([
        systemError('ECONNREFUSED'),
        databaseError('23502', 'null value'),
        new Error('?'),
      ]);
      expectClassified(mixed, 'DATA_REJECTED');
      expectClassified(new AggregateError([new Error('?'), systemError('ECONNRESET')]), 'UNAVAILABLE');
    });

    it('never throws, whatever it is given', () => {
      const hostile = new Proxy(
        {},
        {
          get() {
            throw new Error('no');
          },
        },
      );
      expect(classifyError(hostile).code).toBe('UNKNOWN');
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      expect(classifyError(proxy).code).toBe('UNKNOWN');
    });
  });
});
