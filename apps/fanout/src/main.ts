import './telemetry';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { envHelp, loadAppConfig } from '@asana-stream/config';
import { assertSchemaCurrent } from '@asana-stream/db';
import { runApp } from '@asana-stream/runtime';
import { FanoutModule } from './fanout.module';

void runApp(
  'fanout',
  async (logger) => {
    const config = loadAppConfig('fanout', process.env);
    const app = await NestFactory.create(FanoutModule.forRoot(config), { logger });
    await assertSchemaCurrent(app.get(DataSource));
    app.enableShutdownHooks();
    await app.listen(config.http.PORT, config.http.HOST);
    return { port: config.http.PORT };
  },
  {
    env: process.env,
    argv: process.argv,
    help: envHelp('fanout', 'relays the outbox to the asana.changes.<type> topics'),
  },
);
