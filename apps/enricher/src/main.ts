import './telemetry';
import { NestFactory } from '@nestjs/core';
import { envHelp, loadAppConfig } from '@asana-stream/config';
import { TOPICS, TopicNames } from '@asana-stream/contracts';
import { consumerGroupId, createKafkaClient, KafkaConsumerServer } from '@asana-stream/kafka';
import { runApp } from '@asana-stream/runtime';
import { EnricherModule } from './enricher.module';

void runApp(
  'enricher',
  async (logger) => {
    const config = loadAppConfig('enricher', process.env);
    const groupId = consumerGroupId(config.kafka.KAFKA_TOPIC_PREFIX, 'enricher', config.consumer.CONSUMER_GROUP_SUFFIX);
    const consumer = new KafkaConsumerServer({
      kafka: createKafkaClient({ brokers: config.kafka.KAFKA_BROKERS, clientId: 'asana-stream-enricher' }),
      groupId,
      names: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX),
      topics: [TOPICS.events.name],
    });
    const app = await NestFactory.create(EnricherModule.forRoot(config, consumer), { logger });
    app.connectMicroservice({ strategy: consumer }, { inheritAppConfig: true });
    app.enableShutdownHooks();
    await app.startAllMicroservices();
    await app.listen(config.http.PORT, config.http.HOST);
    return { port: config.http.PORT, groupId, asana: config.asana.ASANA_BASE_URL };
  },
  {
    env: process.env,
    argv: process.argv,
    help: envHelp(
      'enricher',
      "fetches each event's resource from Asana's API and publishes its current state or a tombstone",
    ),
  },
);
