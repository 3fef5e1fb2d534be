import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { bearerToken } from './asana-auth.middleware';
import { ApiRateLimits } from './api-rate-limits';

/**
 * Applies Asana's rate limits to every `/api/1.0` request, after authentication: a refused
 * request is answered 429 by the error filter and never reaches its handler.
 */
@Injectable()
export class AsanaRateLimitMiddleware implements NestMiddleware {
  constructor(private readonly limits: ApiRateLimits) {}

  async use(request: Request, response: Response, next: NextFunction): Promise<void> {
    const admitted = await this.limits.admit(bearerToken(request) ?? '', ApiRateLimits.kindOf(request.method));
    response.once('close', () => admitted.finish());
    next();
  }
}
