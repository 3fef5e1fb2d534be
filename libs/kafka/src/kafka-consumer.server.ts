import { Logger } from '@nestjs/common';
import { BaseRpcContext, Server, type CustomTransportStrategy } from '@nestjs/microservices';
import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import { isObservable, lastValueFrom } from 'rxjs';
import type { TopicNames } from '@asana-stream/contracts';

/** What a handler learns about the message it is given, besides the decoded value. */
export interface ConsumedMessageInfo {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  heartbeat: () => Promise<void>;
}

/** The `@Ctx()` of handlers served by `KafkaConsumerServer`. */
export class ConsumedMessageContext extends BaseRpcContext<[ConsumedMessageInfo]> {
  get info(): ConsumedMessageInfo {
    return this.getArgs()[0];
  }
}

export interface KafkaConsumerServerOptions {
  kafka: Kafka;
  groupId: string;
  names: TopicNames;
  /** Logical topic names; each must have an `@EventPattern(name)` handler. */
  topics: string[];
}

export type ConsumerStatus = 'starting' | 'running' | 'crashed' | 'stopped';

/**
 * A Nest transport on kafkajs that commits an offset only after the handler of its message
 * has finished, so output is durable before input is acknowledged (Nest's own Kafka transport
 * auto-commits). A handler that throws leaves the offset uncommitted: kafkajs redelivers the
 * message after backoff, so handlers must be idempotent. Handlers stay ordinary `@EventPattern`s
 * keyed by logical topic name.
 */
export class KafkaConsumerServer extends Server implements CustomTransportStrategy {
  private readonly log = new Logger(KafkaConsumerServer.name);
  private consumer?: Consumer;
  private currentStatus: ConsumerStatus = 'starting';

  constructor(private readonly options: KafkaConsumerServerOptions) {
    super();
  }

  get consumerStatus(): ConsumerStatus {
    return this.currentStatus;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private async start(): Promise<void> {
    const { kafka, groupId, names, topics } = this.options;
    for (const topic of topics) {
      if (!this.getHandlerByPattern(topic)) throw new Error(`no @EventPattern('${topic}') handler is registered`);
    }
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts the consumer itself when the error is retriable; a consumer that will
      // not restart is marked crashed so the readiness probe fails and Kubernetes replaces it.
      if (!payload.restart) this.currentStatus = 'crashed';
      this.log.error({ msg: 'consumer crashed', groupId, restart: payload.restart, error: String(payload.error) });
    });
    await consumer.connect();
    // A new group starts at the latest offset unless told otherwise: read from the beginning.
    await consumer.subscribe({ topics: topics.map((t) => names.physical(t)), fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: (payload) => this.handleMessage(payload) });
    this.currentStatus = 'running';
  }

  private async handleMessage(payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message } = payload;
    const logical = this.options.names.logical(topic);
    const handler = this.getHandlerByPattern(logical);
    if (!handler) throw new Error(`no handler for topic ${logical}`);
    const headers = Object.fromEntries(
      Object.entries(message.headers ?? {}).map(([name, value]) => [name, value?.toString() ?? '']),
    );
    const info: ConsumedMessageInfo = {
      topic: logical,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? null,
      headers,
      heartbeat: () => payload.heartbeat(),
    };
    const value: unknown = message.value === null ? null : JSON.parse(message.value.toString());
    const result: unknown = await handler(value, new ConsumedMessageContext([info]));
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    // Commit the offset of the next message to read, not of this one (kafkajs#540).
    await this.consumer?.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
  }

  async close(): Promise<void> {
    this.currentStatus = 'stopped';
    await this.consumer?.disconnect();
  }

  on(): never {
    throw new Error('KafkaConsumerServer emits no events; watch consumerStatus instead');
  }

  unwrap<T>(): T {
    if (!this.consumer) throw new Error('the consumer starts with listen()');
    return this.consumer as T;
  }
}
