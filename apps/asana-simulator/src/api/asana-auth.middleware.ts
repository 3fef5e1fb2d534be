import { APP_CONFIG } from '@asana-stream/config';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { SimulatorError } from '../simulator.errors';
import type { SimulatorConfig } from '../simulator.config';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The bearer token of a request, if it carries one. */
export function bearerToken(request: Request): string | undefined {
  return BEARER.exec(request.headers.authorization ?? '')?.[1];
}

/**
 * Every `/api/1.0` request must carry `Authorization: Bearer <SIM_TOKEN>`, as Asana's API wants
 * a personal access token; anything else is Asana's 401 "Not Authorized". A middleware rather
 * than a guard so unknown routes are refused the same way before they are found missing.
 */
@Injectable()
export class AsanaAuthMiddleware implements NestMiddleware {
  private readonly expected: Buffer;

  constructor(@Inject(APP_CONFIG) config: SimulatorConfig) {
    this.expected = digest(config.sim.SIM_TOKEN);
  }

  use(request: Request, _response: Response, next: NextFunction): void {
    const token = bearerToken(request);
    if (token === undefined || !timingSafeEqual(digest(token), this.expected)) {
      throw new SimulatorError('NOT_AUTHORIZED', 'Not Authorized');
    }
    next();
  }
}

/** Hashing first gives equal-length buffers, which `timingSafeEqual` requires. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
