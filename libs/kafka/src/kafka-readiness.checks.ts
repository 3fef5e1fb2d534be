import { Injectable } from '@nestjs/common';
import type { ReadinessCheck } from '@asana-stream/runtime';
import { KafkaConsumerServer } from './kafka-consumer.server';
import { KafkaPublisher } from './kafka-publisher';

/** Ready while the producer is connected. */
@Injectable()
export class KafkaPublisherReadinessCheck implements ReadinessCheck {
  readonly name = 'kafka-producer';
  constructor(private readonly publisher: KafkaPublisher) {}

  async problem(): Promise<string | null> {
    return this.publisher.isConnected ? null : 'the Kafka producer is not connected';
  }
}

/** Ready while the consumer runs; a consumer that crashed for good makes the app unready. */
@Injectable()
export class KafkaConsumerReadinessCheck implements ReadinessCheck {
  readonly name = 'kafka-consumer';
  constructor(private readonly server: KafkaConsumerServer) {}

  async problem(): Promise<string | null> {
    const status = this.server.consumerStatus;
    return status === 'running' ? null : `the Kafka consumer is ${status}`;
  }

  /** kafkajs gave up restarting the consumer (kafkajs#1299, #1721): only a new process helps. */
  async fatalProblem(): Promise<string | null> {
    return this.server.consumerStatus === 'crashed' ? 'the Kafka consumer crashed and will not restart' : null;
  }
}
