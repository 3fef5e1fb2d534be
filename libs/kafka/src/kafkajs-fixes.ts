import { fixKafkajsCrc32c } from './kafkajs-crc-fix';
import { fixKafkajsEncoderAllocation } from './kafkajs-encoder-fix';
import { fixKafkajsProduceRequest } from './kafkajs-produce-request-fix';
import { fixKafkajsRecordEncoding } from './kafkajs-record-fix';
import { fixKafkajsIdleTimerLoop } from './kafkajs-request-queue-fix';

/**
 * kafkajs 2.2.4 is kafkajs' last release; what it does wrong that matters to us is mended here, in
 * place, once per process. Call it before making any kafkajs client (`createKafkaClient` does): the
 * record encoding, the CRC and the produce request can be replaced only before kafkajs' first
 * produce or fetch. The produce request goes last: kafkajs' own, which it keeps for compressed
 * requests, takes the record encoder and the CRC it finds when it loads.
 */
export function applyKafkajsFixes(): void {
  fixKafkajsIdleTimerLoop();
  fixKafkajsEncoderAllocation();
  fixKafkajsRecordEncoding();
  fixKafkajsCrc32c();
  fixKafkajsProduceRequest();
}
