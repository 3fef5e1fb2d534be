import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ApiFailures } from './api-failures';

/** Answers a request with the injected outage status, when one is due, before its handler runs. */
@Injectable()
export class AsanaFailureMiddleware implements NestMiddleware {
  constructor(private readonly failures: ApiFailures) {}

  use(_request: Request, _response: Response, next: NextFunction): void {
    const failure = this.failures.take();
    if (failure) throw failure;
    next();
  }
}
