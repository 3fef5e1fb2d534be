import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { context, type Context } from '@opentelemetry/api';
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';

interface SendJob {
  topicMessages: TopicMessages[];
  context: Context;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The only way the apps write to Kafka. An idempotent producer with acks=all: a send resolves
 * only once every in-sync replica has every message.
 *
 * Sends go through one queue, one request in flight: concurrent sends on a kafkajs idempotent
 * producer have raised OUT_OF_ORDER_SEQUENCE_NUMBER (kafkajs#598). Each send runs in the trace
 * context of its caller, so the kafkajs instrumentation stamps the right `traceparent` on each
 * message. (Coalescing several callers into one request is a throughput change for later: it
 * needs per-message producer spans of our own.)
 */
export class KafkaPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly producer: Producer;
  private readonly queue: SendJob[] = [];
  private draining = false;
  private connected = false;

  constructor(kafka: Kafka) {
    // The default (murmur2, Java-compatible) partitioner: a gid maps to the same partition as
    // it would from any other Kafka client.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async onModuleInit(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Runs after the HTTP server and consumers have stopped, so in-flight sends finish first. */
  async onApplicationShutdown(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Publishes messages to several topics; resolves once Kafka acknowledged all of them. */
  publish(topicMessages: TopicMessages[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topicMessages, context: context.active(), resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        const { topicMessages } = job;
        try {
          await context.with(job.context, () => this.producer.sendBatch({ topicMessages, acks: -1 }));
          job.resolve();
        } catch (error) {
          job.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

/** A JSON message keyed by `key` (a resource gid, or a subscription id). */
export function jsonMessage(key: string, value: unknown, headers?: Record<string, string>): Message {
  return { key, value: JSON.stringify(value), headers };
}
