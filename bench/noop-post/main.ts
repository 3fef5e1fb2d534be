import { Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * The baseline ingest is held to: the same Nest 11 + Express stack with one POST route that
 * answers 200 and does nothing else (Nest's default body parsing, no validation, no Kafka, no
 * telemetry). It runs as its own process, like ingest, on `PORT` and `HOST`.
 */
@Controller()
class NoopPostController {
  /** ingest's route, so the load generators send byte-for-byte the same requests. */
  @Post('webhooks/asana/:subscriptionId')
  @HttpCode(200)
  receive(): void {}

  @Get('health/live')
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  ready(): { status: string } {
    return { status: 'ok' };
  }
}

@Module({ controllers: [NoopPostController] })
class NoopPostModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(NoopPostModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
}

void main();
