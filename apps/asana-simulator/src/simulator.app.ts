import type { LogEnv } from '@asana-stream/config';
import type { LogLevel } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AsanaErrorFilter, ASANA_ERROR_HELP, type AsanaErrorBody } from './api/asana-error.filter';

/** Nest log levels for a LOG_LEVEL: each level and everything more severe. */
export function nestLogLevels(level: LogEnv['LOG_LEVEL']): LogLevel[] {
  const order: LogLevel[] = ['error', 'warn', 'log', 'debug'];
  const cut = { error: 1, warn: 2, info: 3, debug: 4 }[level];
  return order.slice(0, cut);
}

/**
 * What both `main.ts` and the tests do to a created app, so tests run the production setup:
 * Asana-shaped errors everywhere, including for bodies that are not JSON, which Express's body
 * parser rejects before any Nest filter runs. Create the app with `bodyParser: false`.
 */
export function configureSimulatorApp(app: NestExpressApplication): NestExpressApplication {
  app.useGlobalFilters(new AsanaErrorFilter());
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: '1mb' });
  app.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (response.headersSent) return next(error);
    const status = (error as { status?: unknown }).status === 413 ? 413 : 400;
    const message = status === 413 ? 'Request body too large' : 'Could not parse request data, invalid JSON';
    const body: AsanaErrorBody = { errors: [{ message, help: ASANA_ERROR_HELP }] };
    response.status(status).json(body);
  });
  return app;
}
