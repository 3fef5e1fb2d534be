import { ConfigError, maskSecrets } from '@asana-stream/config';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { helpText } from './help';
import { configureSimulatorApp, nestLogLevels } from './simulator.app';
import { loadSimulatorConfig } from './simulator.config';
import { SimulatorModule } from './simulator.module';

async function bootstrap(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  const config = loadSimulatorConfig(process.env);
  const logger = new ConsoleLogger({ json: true, logLevels: nestLogLevels(config.log.LOG_LEVEL) });
  const app = await NestFactory.create<NestExpressApplication>(SimulatorModule.forRoot(config), {
    logger,
    bodyParser: false,
  });
  configureSimulatorApp(app);
  app.enableShutdownHooks();
  await app.listen(config.http.PORT, config.http.HOST);
  new Logger('Simulator').log({
    message: 'asana simulator listening',
    url: `http://${config.http.HOST}:${config.http.PORT}/api/1.0`,
    config: maskSecrets(config.sim),
  });
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
