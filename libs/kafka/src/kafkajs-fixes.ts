import { fixKafkajsCrc32c } from './kafkajs-crc-fix';
import { fixKafkajsEncoderAllocation } from './kafkajs-encoder-fix';
import { fixKafkajsRecordEncoding } from './kafkajs-record-fix';
import { fixKafkajsIdleTimerLoop } from './kafkajs-request-queue-fix';

/**
 * kafkajs 2.2.4 is kafkajs' last release; what it does wrong that matters to us is mended here, in
 * place, once per process. Call it before making any kafkajs client (`createKafkaClient` does): the
 * record encoding and the CRC can be replaced only before kafkajs' first produce or fetch.
 */
export function applyKafkajsFixes(): void {
  fixKafkajsIdleTimerLoop();
  fixKafkajsEncoderAllocation();
  fixKafkajsRecordEncoding();
  fixKafkajsCrc32c();
}
