import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ApiFailures } from './api-failures';

/** Answers a request with the injected failure, when one is due for it, before its handler runs. */
@Injectable()
export class AsanaFailureMiddleware implements NestMiddleware {
  constructor(private readonly failures: ApiFailures) {}

  use(request: Request, _response: Response, next: NextFunction): void {
    // originalUrl: Express strips the route's mount path from `url` inside middleware.
    const failure = this.failures.take(new URL(request.originalUrl, 'http://sim').pathname);
    if (failure) throw failure;
    next();
  }
}
