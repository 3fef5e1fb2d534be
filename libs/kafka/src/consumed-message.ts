import { BaseRpcContext } from '@nestjs/microservices';

/** What a handler learns about the message it is given, besides the decoded value. */
export interface ConsumedMessageInfo {
  /** The logical topic (`asana.events`), as handlers are keyed. */
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  /**
   * Which attempt at this message this is, in this process: 1 first, then one more per retry.
   * A message redelivered after a restart or a rebalance starts at 1 again.
   */
  attempt: number;
  /**
   * Aborted when the consumer closes or loses the partition in a rebalance: a handler waiting
   * (a backoff, a rate limit) should end at once; its message stays uncommitted and is delivered
   * again, here or to the partition's next owner.
   */
  signal: AbortSignal;
  /**
   * Tells the group coordinator this member is alive. The transport already heartbeats every
   * `heartbeatIntervalMs` while a batch runs; calling it more is harmless.
   */
  heartbeat: () => Promise<void>;
}

/** The `@Ctx()` of handlers served by `KafkaConsumerServer`. */
export class ConsumedMessageContext extends BaseRpcContext<[ConsumedMessageInfo]> {
  get info(): ConsumedMessageInfo {
    return this.getArgs()[0];
  }
}

/** One message of a batch given to an `@EventPattern(topic, { batch: true })` handler. */
export interface ConsumedMessage<T = unknown> {
  value: T;
  info: ConsumedMessageInfo;
}

/** What a batch handler learns about its batch: one partition's messages, in offset order. */
export interface ConsumedBatchInfo {
  topic: string;
  partition: number;
  /** Which attempt at this batch this is: a failed batch is retried whole. */
  attempt: number;
  signal: AbortSignal;
  heartbeat: () => Promise<void>;
}

/** The `@Ctx()` of batch handlers (`@EventPattern(topic, { batch: true })`). */
export class ConsumedBatchContext extends BaseRpcContext<[ConsumedBatchInfo]> {
  get info(): ConsumedBatchInfo {
    return this.getArgs()[0];
  }
}

/**
 * The extras of an `@EventPattern` served by `KafkaConsumerServer`:
 * `@EventPattern(TOPICS.state.name, { batch: true } satisfies ConsumerPatternExtras)`.
 */
export interface ConsumerPatternExtras {
  /**
   * The handler takes `ConsumedMessage[]`: a partition's messages in offset order, all keys
   * together, at most `maxBatchMessages` at a time, for set-based work (one statement for many
   * gids). Keeping each gid's order within the batch is then the handler's job. A batch that
   * fails is retried whole; one that fails for a reason of a message's own (dead-letter) is
   * taken apart and its messages run one at a time, so only the culprit is dead-lettered.
   */
  batch?: boolean;
}
