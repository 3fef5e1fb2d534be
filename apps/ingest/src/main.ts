import './telemetry';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { envHelp, loadAppConfig } from '@asana-stream/config';
import { assertSchemaCurrent } from '@asana-stream/db';
import { runApp } from '@asana-stream/runtime';
import { configureIngestApp } from './ingest.app';
import { IngestModule } from './ingest.module';

void runApp(
  'ingest',
  async (logger) => {
    const config = loadAppConfig('ingest', process.env);
    const app = await NestFactory.create<NestExpressApplication>(IngestModule.forRoot(config), {
      bodyParser: false,
      logger,
    });
    configureIngestApp(app, config);
    app.enableShutdownHooks();
    await assertSchemaCurrent(app.get(DataSource));
    await app.listen(config.http.PORT, config.http.HOST);
    return { port: config.http.PORT };
  },
  {
    env: process.env,
    argv: process.argv,
    help: envHelp(
      'ingest',
      'receives Asana webhook deliveries (handshake, signature) and publishes each event to Kafka',
    ),
  },
);
