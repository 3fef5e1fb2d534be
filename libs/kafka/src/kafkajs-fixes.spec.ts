import { inFreshModuleRegistry } from '@asana-stream/testing';
import { isKafkajsCrc32c, nativeCrc32c } from './kafkajs-crc-fix';
import { KAFKAJS_MODULES } from './kafkajs-modules';
import { isKafkajsProduceRequestV3 } from './kafkajs-produce-request-fix';
import { isKafkajsRecordEncoder } from './kafkajs-record-fix';

describe('applyKafkajsFixes', () => {
  it('puts every fix in place in a process that has not produced or fetched yet, as the apps call it', async () => {
    await inFreshModuleRegistry(async (load) => {
      const { applyKafkajsFixes } = load(require.resolve('./kafkajs-fixes')) as typeof import('./kafkajs-fixes');
      applyKafkajsFixes();
      expect(isKafkajsRecordEncoder(load(KAFKAJS_MODULES.record))).toBe(false);
      expect(isKafkajsProduceRequestV3(load(KAFKAJS_MODULES.produceRequest))).toBe(false);
      // The native CRC where its binary installed (an optional package of this platform's).
      expect(isKafkajsCrc32c(load(KAFKAJS_MODULES.crc32c))).toBe(nativeCrc32c() === undefined);
    });
  });
});
