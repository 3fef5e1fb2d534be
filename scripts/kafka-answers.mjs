// Exits 0 when a Kafka broker answers at KAFKA_BROKERS (default 127.0.0.1:9092), else 1.
// The scripts use it to reuse a broker that is already serving (another checkout's, or a
// remote one named by KAFKA_BROKERS) instead of starting the local one.
import process from 'node:process';
import kafkajs from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const admin = new kafkajs.Kafka({
  clientId: 'asana-stream-probe',
  brokers,
  logLevel: kafkajs.logLevel.NOTHING,
  connectionTimeout: 2000,
  retry: { retries: 1 },
}).admin();

try {
  await admin.connect();
  await admin.describeCluster();
  await admin.disconnect();
  process.exit(0);
} catch {
  process.exit(1);
}
