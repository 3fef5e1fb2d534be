import type { LoggerService } from '@nestjs/common';
import type { MessageHandler } from '@nestjs/microservices';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
} from '@opentelemetry/api';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { isObservable, lastValueFrom } from 'rxjs';
import { classifyError, dispositionAfterRetries, type AsanaStreamError } from '@asana-stream/errors';
import { secondsSince } from '@asana-stream/metrics';
import {
  ConsumedBatchContext,
  ConsumedMessageContext,
  type ConsumedBatchInfo,
  type ConsumedMessage,
  type ConsumedMessageInfo,
} from './consumed-message';
import type { ConsumerHealth } from './consumer-health';
import type { DeadLetterPublisher, FailureRecord } from './dead-letter.publisher';
import { consumerLagOf, consumerMetricsOf, type TopicConsumerMetrics } from './kafka-metrics';
import type { OffsetCommitter } from './offset-committer';
import { waitUnlessAborted, type RetryPolicy } from './retry-policy';

/** How one consumed topic is served: its handler, decoder and dead-letter topic. */
export interface TopicBinding {
  /** Logical name, as handlers are keyed (`asana.events`). */
  logical: string;
  physical: string;
  handler: MessageHandler;
  /** The handler takes `ConsumedMessage[]` (`@EventPattern(topic, { batch: true })`). */
  batch: boolean;
  /** Turns a record's value into the handler's payload; throws for a value that is not one. */
  decode: (bytes: Buffer | null) => unknown;
  /** Physical dead-letter topic; null when the server has no dead-letter publisher. */
  deadLetterTopic: string | null;
}

/** What every partition batch of one server shares. */
export interface BatchProcessorDeps {
  retry: RetryPolicy;
  deadLetters: DeadLetterPublisher | null;
  health: ConsumerHealth;
  log: LoggerService;
  /** Keys of one partition batch handled at once (each key's messages one after another). */
  keyConcurrency: number;
  /** Most messages given to a batch handler at once. */
  maxBatchMessages: number;
  /** Heartbeat, offset resolution and periodic commits tick this often while a batch runs. */
  heartbeatIntervalMs: number;
  committer: OffsetCommitter;
  /** A long batch commits what it resolved at most this often. */
  commitIntervalMs: number;
  /** Once the batch's signal aborts, how long handlers already running may still finish. */
  abortGraceMs: number;
  /** The group moved this member's partitions away: every batch in flight must end. */
  onPartitionsLost(error: unknown): void;
}

type Outcome = 'done' | 'abandoned' | { error: AsanaStreamError; failure: FailureRecord };

/** kafkajs errors after which this member no longer owns its partitions (it rejoins the group). */
const PARTITIONS_LOST = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);
const MAX_TRACE_LINKS = 128;
const tracer = trace.getTracer('asana-stream');

/**
 * Runs one partition's batch (kafkajs `eachBatch`) through its handler:
 *
 * - per-message handlers: messages are grouped by key; each key's messages run one after another
 *   in offset order, up to `keyConcurrency` keys at once;
 * - batch handlers: the partition's messages in offset order, `maxBatchMessages` at a time.
 *
 * An offset is resolved only for the contiguous prefix of messages that are done (handled, or
 * acknowledged by the dead-letter topic), so a commit never passes a message whose output is not
 * durable. What is resolved is committed after the batch (and, every `commitIntervalMs`, during
 * a long one) by the `OffsetCommitter`. A heartbeat goes out every `heartbeatIntervalMs` while
 * the batch runs, so a slow handler or a backoff never costs the member its partitions
 * (kafkajs#1720).
 *
 * Metrics (`kafka-metrics.ts`) cost the batch a few calls, not a call per message: handled
 * messages are counted locally and added at each tick and at the end, the lag is set when the
 * done prefix moves, and durations are observed per handler call and per batch.
 */
export class PartitionBatchRun {
  private readonly messages: KafkaMessage[];
  private readonly keys: (string | null)[];
  private readonly done: Uint8Array;
  private prefix = 0;
  private resolved = 0;
  /** How much of the prefix a commit was asked for, while the batch runs. */
  private commitAsked = 0;
  private partitionsLost?: Error;
  private readonly logical: string;
  private readonly heartbeat: () => Promise<void>;
  private readonly metrics: TopicConsumerMetrics;
  /** Messages handled since the count was last added to the metrics. */
  private handledUncounted = 0;

  constructor(
    private readonly payload: EachBatchPayload,
    private readonly binding: TopicBinding,
    private readonly deps: BatchProcessorDeps,
    private readonly signal: AbortSignal,
  ) {
    this.messages = payload.batch.messages;
    this.keys = this.messages.map((message) => (message.key === null ? null : message.key.toString()));
    this.done = new Uint8Array(this.messages.length);
    this.logical = binding.logical;
    this.heartbeat = () => payload.heartbeat();
    this.metrics = consumerMetricsOf(binding.physical);
  }

  /**
   * Resolves once every message is done, or once the signal aborted and the handlers still
   * running finished (or `abortGraceMs` passed). Throws kafkajs' own error when the member lost
   * its partitions, so kafkajs rejoins the group.
   */
  async run(): Promise<void> {
    const startedAt = performance.now();
    if (this.messages.length > 0) this.setLag(Number(this.messages[0].offset));
    const ticker = setInterval(() => this.tick(), this.deps.heartbeatIntervalMs);
    try {
      const work = (this.binding.batch ? this.runBatches() : this.runKeys()).catch((error: unknown) => {
        // The loops catch every handler failure; reaching here is a bug of ours.
        this.deps.log.error({ msg: 'partition batch failed', ...this.where(), error: classifyError(error).toJSON() });
      });
      await this.settle(work);
    } finally {
      clearInterval(ticker);
    }
    this.resolveDone();
    this.countHandled();
    this.metrics.batchDuration.observe(secondsSince(startedAt));
    const committed = this.deps.committer.commit(this.payload);
    // Leaving the group (shutdown) or rejoining it (rebalance) must wait for the commit; a batch
    // that simply ended lets the next fetch go ahead of it.
    if (this.signal.aborted || this.partitionsLost !== undefined) await committed;
    if (this.partitionsLost !== undefined) throw this.partitionsLost;
  }

  // ---- per-message handlers ---------------------------------------------------------------------

  private async runKeys(): Promise<void> {
    const groups: number[][] = [];
    const byKey = new Map<string | null, number[]>();
    for (let i = 0; i < this.messages.length; i++) {
      const key = this.keys[i];
      let group = byKey.get(key);
      if (group === undefined) {
        group = [];
        byKey.set(key, group);
        groups.push(group);
      }
      group.push(i);
    }
    let next = 0;
    const worker = async () => {
      for (let group = groups[next++]; group !== undefined; group = groups[next++]) {
        for (const index of group) {
          // A key stops at its first message not done, so its later messages never overtake it.
          if (this.signal.aborted || !(await this.runMessage(index))) return;
          this.done[index] = 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.keyConcurrency, groups.length) }, worker));
  }

  /** True once the message is handled or dead-lettered; false when it was given up (aborted). */
  private async runMessage(index: number): Promise<boolean> {
    const message = this.messages[index];
    let value: unknown;
    try {
      value = this.binding.decode(message.value);
    } catch (error) {
      return this.deadLetter(index, classifyError(error), singleFailure(), this.traceOf(message));
    }
    const info = this.infoFor(index);
    try {
      await this.invoke(value, info);
      this.handledUncounted++;
      return true;
    } catch (error) {
      const attempt = (n: number) => {
        info.attempt = n;
        return this.invoke(value, info);
      };
      const outcome = await this.afterFailure(error, attempt, 1, this.where(index));
      if (outcome === 'done') {
        this.handledUncounted++;
        return true;
      }
      if (outcome === 'abandoned') return false;
      return this.deadLetter(index, outcome.error, outcome.failure, this.traceOf(message));
    }
  }

  /**
   * Runs the handler in the message's own trace (the producer's span, from its `traceparent`),
   * inside a `process <topic>` span, so one delivery stays one trace through every stage. A
   * message without trace context costs no span at all.
   */
  private invoke(value: unknown, info: ConsumedMessageInfo): Promise<void> {
    if (info.headers.traceparent === undefined) return this.call(value, new ConsumedMessageContext([info]));
    const parent = propagation.extract(ROOT_CONTEXT, info.headers);
    const span = tracer.startSpan(
      `process ${info.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.destination.name': this.binding.physical,
          'messaging.destination.partition.id': String(info.partition),
          'messaging.kafka.offset': info.offset,
          'messaging.kafka.message.key': info.key ?? undefined,
        },
      },
      parent,
    );
    return context
      .with(trace.setSpan(parent, span), () => this.call(value, new ConsumedMessageContext([info])))
      .then(
        () => span.end(),
        (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: classifyError(error).code });
          span.end();
          throw error;
        },
      );
  }

  private traceOf(message: KafkaMessage): Context {
    const traceparent = message.headers?.traceparent;
    return traceparent === undefined
      ? ROOT_CONTEXT
      : propagation.extract(ROOT_CONTEXT, { traceparent: String(traceparent) });
  }

  private async call(payload: unknown, ctx: ConsumedMessageContext | ConsumedBatchContext): Promise<void> {
    const startedAt = performance.now();
    try {
      const result: unknown = await this.binding.handler(payload, ctx);
      // Nest hands a handler's failure over as an Observable error (KafkaConsumerErrorFilter keeps it whole).
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    } finally {
      this.metrics.handlerDuration.observe(secondsSince(startedAt));
    }
  }

  // ---- batch handlers ---------------------------------------------------------------------------

  /**
   * Decodes a chunk's worth of messages at a time, just before the handler takes them: a fetch
   * holds thousands per partition, and decoding them all first would leave the handler's
   * database or broker idle while the one thread decodes, and delay every other partition.
   */
  private async runBatches(): Promise<void> {
    let chunk: { index: number; value: unknown }[] = [];
    for (let index = 0; index < this.messages.length; index++) {
      try {
        chunk.push({ index, value: this.binding.decode(this.messages[index].value) });
      } catch (error) {
        if (!(await this.deadLetter(index, classifyError(error), singleFailure()))) return;
        this.done[index] = 1;
      }
      if (chunk.length === this.deps.maxBatchMessages) {
        if (!(await this.runChunkUnlessAborted(chunk))) return;
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.runChunkUnlessAborted(chunk);
  }

  /** `runChunk`, unless the run was aborted (false then: nothing more is handled). */
  private async runChunkUnlessAborted(chunk: { index: number; value: unknown }[]): Promise<boolean> {
    return !this.signal.aborted && (await this.runChunk(chunk));
  }

  /** Marks the chunk's messages done and returns true once each is handled or dead-lettered. */
  private async runChunk(chunk: { index: number; value: unknown }[]): Promise<boolean> {
    const batchInfo: ConsumedBatchInfo = {
      topic: this.logical,
      partition: this.payload.batch.partition,
      attempt: 1,
      signal: this.signal,
      heartbeat: this.heartbeat,
    };
    const messages: ConsumedMessage[] = chunk.map(({ index, value }) => ({ value, info: this.infoFor(index) }));
    const attempt = (n: number) => {
      batchInfo.attempt = n;
      for (const message of messages) message.info.attempt = n;
      return this.invokeBatch(messages, batchInfo);
    };
    let outcome: Outcome;
    try {
      await attempt(1);
      outcome = 'done';
    } catch (error) {
      const first = chunk[0].index;
      const last = chunk[chunk.length - 1].index;
      outcome = await this.afterFailure(error, attempt, chunk.length, {
        ...this.where(first),
        lastOffset: this.messages[last].offset,
        messages: chunk.length,
      });
    }
    if (outcome === 'abandoned') return false;
    if (outcome !== 'done') {
      if (chunk.length > 1) {
        // Which message is at fault is unknown: run them one by one, so only the culprit is parked.
        for (const item of chunk) if (!(await this.runChunk([item]))) return false;
        return true;
      }
      const index = chunk[0].index;
      if (!(await this.deadLetter(index, outcome.error, outcome.failure, this.traceOf(this.messages[index])))) {
        return false;
      }
    }
    if (outcome === 'done') this.handledUncounted += chunk.length;
    for (const { index } of chunk) this.done[index] = 1;
    return true;
  }

  private async invokeBatch(messages: ConsumedMessage[], info: ConsumedBatchInfo): Promise<void> {
    // One span for the batch, linked to each message's own trace (a span has one parent).
    const links: Link[] = [];
    for (const message of messages.slice(0, MAX_TRACE_LINKS)) {
      const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, message.info.headers));
      if (linked) links.push({ context: linked });
    }
    const span = tracer.startSpan(
      `process ${info.topic}`,
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.destination.name': this.binding.physical,
          'messaging.destination.partition.id': String(info.partition),
          'messaging.batch.message_count': messages.length,
        },
      },
      ROOT_CONTEXT,
    );
    try {
      await context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
        this.call(messages, new ConsumedBatchContext([info])),
      );
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: classifyError(error).code });
      throw error;
    } finally {
      span.end();
    }
  }

  // ---- failures ---------------------------------------------------------------------------------

  /**
   * Acts on a failure's disposition until the subject (a message or a batch) is done:
   * - `retry`: tried again after exponential backoff with full jitter, while its budget lasts;
   *   then `dispositionAfterRetries` decides (halt, or dead-letter for UNKNOWN);
   * - `dead-letter`: handed back to the caller, which parks the message;
   * - `halt`: nothing is committed or dead-lettered; the consumer reports itself halted (unready)
   *   and tries the subject again slowly until it succeeds (then it resumes) or the signal aborts.
   * Each try again counts the subject's `messages` as retried.
   */
  private async afterFailure(
    thrown: unknown,
    attempt: (n: number) => Promise<void>,
    messages: number,
    where: Record<string, unknown>,
  ): Promise<Outcome> {
    const { retry, health, log } = this.deps;
    const subject = {};
    const failure: FailureRecord = { attempts: 1, firstFailureAt: new Date(), lastFailureAt: new Date() };
    let error = classifyError(thrown);
    let haltTries = 0;
    try {
      for (;;) {
        // A handler cut short by the signal is not at fault: it stays uncommitted for its next owner.
        if (this.signal.aborted) return 'abandoned';
        let wait: number | null = null;
        let disposition = error.disposition;
        if (disposition === 'retry') {
          wait = retry.delayBefore(failure.attempts + 1, failure.firstFailureAt.getTime(), Date.now());
          if (wait === null) disposition = dispositionAfterRetries(error);
          else
            log.debug?.({
              msg: 'retrying message',
              ...where,
              attempt: failure.attempts,
              waitMs: wait,
              code: error.code,
            });
        }
        if (disposition === 'dead-letter') return { error, failure };
        if (disposition === 'halt') {
          health.halt(subject, error, where);
          wait = retry.haltDelay(++haltTries);
        }
        if (!(await waitUnlessAborted(wait ?? 0, this.signal))) return 'abandoned';
        failure.attempts += 1;
        this.metrics.retried.inc(messages);
        try {
          await attempt(failure.attempts);
          if (health.resume(subject)) log.log({ msg: 'consumer resumed: a halted message succeeded', ...where });
          else log.log({ msg: 'message handled after retries', ...where, attempts: failure.attempts });
          return 'done';
        } catch (next) {
          error = classifyError(next);
          failure.lastFailureAt = new Date();
        }
      }
    } finally {
      health.resume(subject);
    }
  }

  /**
   * Parks the message on its topic's dead-letter topic and returns true once Kafka acknowledged
   * it. While the dead-letter topic cannot be written (or the server has none), the message is
   * halted instead: it stays uncommitted, never lost.
   */
  private async deadLetter(
    index: number,
    error: AsanaStreamError,
    failure: FailureRecord,
    parent: Context = ROOT_CONTEXT,
  ): Promise<boolean> {
    const { deadLetters, retry, health, log } = this.deps;
    const { deadLetterTopic } = this.binding;
    const where = this.where(index);
    const subject = {};
    const source = {
      topic: this.binding.physical,
      partition: this.payload.batch.partition,
      message: this.messages[index],
    };
    try {
      for (let tries = 1; ; tries++) {
        if (this.signal.aborted) return false;
        if (deadLetters === null || deadLetterTopic === null) {
          health.halt(subject, error, {
            ...where,
            deadLetterTopic: 'none: this consumer has no dead-letter publisher',
          });
        } else {
          try {
            await context.with(parent, () => deadLetters.publish(deadLetterTopic, source, error, failure));
            this.metrics.deadLetter(error.code);
            // In the message's trace, so the line carries its trace_id (the handler's span has ended).
            context.with(parent, () => {
              log.warn({
                msg: 'message dead-lettered',
                ...where,
                deadLetterTopic,
                code: error.code,
                reason: error.message,
                attempts: failure.attempts,
              });
            });
            return true;
          } catch (publishError) {
            if (this.signal.aborted) return false;
            health.halt(subject, classifyError(publishError), { ...where, deadLetterTopic, parked: error.code });
          }
        }
        if (!(await waitUnlessAborted(retry.haltDelay(tries), this.signal))) return false;
      }
    } finally {
      health.resume(subject);
    }
  }

  // ---- offsets, heartbeats, shutdown ----------------------------------------------------------

  private tick(): void {
    this.payload.heartbeat().catch((error: unknown) => this.onBrokerError(error));
    // A long batch commits its progress now and then, so a member that dies loses little.
    this.resolveDone();
    this.countHandled();
    if (this.resolved > this.commitAsked && this.deps.committer.sinceLastCommitMs >= this.deps.commitIntervalMs) {
      this.commitAsked = this.resolved;
      void this.deps.committer.commit(this.payload);
    }
  }

  private onBrokerError(error: unknown): void {
    const type = (error as { type?: unknown }).type;
    if (typeof type === 'string' && PARTITIONS_LOST.has(type) && error instanceof Error) {
      this.partitionsLost ??= error;
      this.deps.onPartitionsLost(error);
    }
    // Anything else (a broker that does not answer) shows in readiness, which watches contact.
  }

  /** Resolves the offset of the last message of the done prefix (kafkajs then commits offset + 1). */
  private resolveDone(): void {
    while (this.prefix < this.done.length && this.done[this.prefix] === 1) this.prefix++;
    if (this.prefix > this.resolved) {
      this.resolved = this.prefix;
      const offset = this.messages[this.prefix - 1].offset;
      this.payload.resolveOffset(offset);
      this.setLag(Number(offset) + 1);
    }
  }

  /** The partition's lag from `nextOffset`, its first message not yet done. */
  private setLag(nextOffset: number): void {
    this.metrics.setLag(this.payload.batch.partition, consumerLagOf(this.payload.batch.highWatermark, nextOffset));
  }

  /** Adds the messages handled since the last time to the consumer's counter. */
  private countHandled(): void {
    if (this.handledUncounted === 0) return;
    this.metrics.done.inc(this.handledUncounted);
    this.handledUncounted = 0;
  }

  /** Waits for `work`, but once the signal aborts, no longer than `abortGraceMs`. */
  private async settle(work: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let startGrace: (() => void) | undefined;
    const graceOver = new Promise<void>((resolve) => {
      startGrace = () => (timer = setTimeout(resolve, this.deps.abortGraceMs));
      if (this.signal.aborted) startGrace();
      else this.signal.addEventListener('abort', startGrace, { once: true });
    });
    try {
      await Promise.race([work, graceOver]);
    } finally {
      clearTimeout(timer);
      if (startGrace) this.signal.removeEventListener('abort', startGrace);
    }
  }

  private infoFor(index: number): ConsumedMessageInfo {
    const message = this.messages[index];
    const headers: Record<string, string> = {};
    const raw = message.headers;
    if (raw) {
      for (const name in raw) {
        const value = raw[name];
        if (value !== undefined)
          headers[name] = Array.isArray(value) ? String(value[value.length - 1]) : value.toString();
      }
    }
    return {
      topic: this.logical,
      partition: this.payload.batch.partition,
      offset: message.offset,
      key: this.keys[index],
      headers,
      attempt: 1,
      signal: this.signal,
      heartbeat: this.heartbeat,
    };
  }

  private where(index?: number): Record<string, unknown> {
    const where: Record<string, unknown> = { topic: this.logical, partition: this.payload.batch.partition };
    if (index !== undefined) {
      where.offset = this.messages[index].offset;
      where.key = this.keys[index];
    }
    return where;
  }
}

function singleFailure(): FailureRecord {
  const now = new Date();
  return { attempts: 1, firstFailureAt: now, lastFailureAt: now };
}
