import { Injectable } from '@nestjs/common';
import type { ReadinessCheck } from '@asana-stream/runtime';
import { KafkaConsumerServer } from './kafka-consumer.server';
import { KafkaPublisher } from './kafka-publisher';

/**
 * Ready while the producer can send now: it is connected, a broker answered a metadata request
 * within 2 s (asked at most every 2 s), and the last send did not fail since for a reason
 * other than its messages. During a broker outage a probe reports it within about 2 s, and the
 * first probe after the broker is back reports ready. See `KafkaPublisher.readinessProblem`.
 */
@Injectable()
export class KafkaPublisherReadinessCheck implements ReadinessCheck {
  readonly name = 'kafka-producer';
  constructor(private readonly publisher: KafkaPublisher) {}

  async problem(): Promise<string | null> {
    return this.publisher.readinessProblem();
  }
}

/**
 * Ready while the consumer runs, the broker answers it (a fetch, heartbeat, join or commit within
 * the last 10 s, so a broker outage shows within seconds even when the consumer is idle), and no
 * message is halted waiting for someone to act (UNAUTHORIZED, a dependency that stays down).
 */
@Injectable()
export class KafkaConsumerReadinessCheck implements ReadinessCheck {
  readonly name = 'kafka-consumer';
  constructor(private readonly server: KafkaConsumerServer) {}

  async problem(): Promise<string | null> {
    return this.server.readinessProblem();
  }

  /** kafkajs gave up restarting the consumer (kafkajs#1299, #1721): only a new process helps. */
  async fatalProblem(): Promise<string | null> {
    return this.server.fatalProblem();
  }
}
