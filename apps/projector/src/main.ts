import './telemetry';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { envHelp, loadAppConfig } from '@asana-stream/config';
import { TOPICS, TopicNames } from '@asana-stream/contracts';
import { assertSchemaCurrent } from '@asana-stream/db';
import { consumerGroupId, createKafkaClient, KafkaConsumerServer } from '@asana-stream/kafka';
import { runApp } from '@asana-stream/runtime';
import { ProjectorModule } from './projector.module';

void runApp(
  'projector',
  async (logger) => {
    const config = loadAppConfig('projector', process.env);
    const groupId = consumerGroupId(
      config.kafka.KAFKA_TOPIC_PREFIX,
      'projector',
      config.consumer.CONSUMER_GROUP_SUFFIX,
    );
    const consumer = new KafkaConsumerServer({
      kafka: createKafkaClient({ brokers: config.kafka.KAFKA_BROKERS, clientId: 'asana-stream-projector' }),
      groupId,
      names: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX),
      topics: [TOPICS.state.name],
    });
    const app = await NestFactory.create(ProjectorModule.forRoot(config, consumer), { logger });
    await assertSchemaCurrent(app.get(DataSource));
    app.connectMicroservice({ strategy: consumer }, { inheritAppConfig: true });
    app.enableShutdownHooks();
    await app.startAllMicroservices();
    await app.listen(config.http.PORT, config.http.HOST);
    return { port: config.http.PORT, groupId };
  },
  {
    env: process.env,
    argv: process.argv,
    help: envHelp(
      'projector',
      'applies resource states to Postgres behind a version guard and writes changes to the outbox',
    ),
  },
);
