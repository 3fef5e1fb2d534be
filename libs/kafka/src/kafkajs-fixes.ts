import { fixKafkajsEncoderAllocation } from './kafkajs-encoder-fix';
import { fixKafkajsIdleTimerLoop } from './kafkajs-request-queue-fix';

/**
 * kafkajs 2.2.4 is kafkajs' last release; what it does wrong that matters to us is mended here, in
 * place, once per process. Call it before making any kafkajs client (`createKafkaClient` does).
 */
export function applyKafkajsFixes(): void {
  fixKafkajsIdleTimerLoop();
  fixKafkajsEncoderAllocation();
}
