import { Controller, Get, Header, HttpException, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { classifyError } from '@asana-stream/errors';
import { gidProblem, type ResourceLookup } from '@asana-stream/lookup';
import { LookupService } from './lookup.service';

/** Headers a reverse proxy, an ingress controller or a load balancer adds to what it forwards. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

/**
 * `GET /lookup/:gid`: what `asana-stream lookup <gid> --json` prints, for tools inside the
 * cluster. The answer holds the resource's Asana content (its projection state), so it is served
 * only to direct callers: the fanout's port is reached through a ClusterIP Service that no Ingress
 * routes to (and is not published by docker-compose.yml), so from inside the cluster or through
 * `kubectl port-forward`; a request that came through a proxy (an Ingress or load balancer
 * pointed at it later) is refused with 403 rather than answered.
 */
@Controller('lookup')
export class LookupController {
  constructor(private readonly lookups: LookupService) {}

  @Get(':gid')
  @Header('Cache-Control', 'no-store')
  async lookup(
    @Param('gid') gid: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ResourceLookup> {
    if (PROXY_HEADERS.some((name) => request.headers[name] !== undefined)) {
      throw new HttpException(
        { code: 'FORBIDDEN', message: 'lookups are served to callers inside the cluster only, not through a proxy' },
        403,
      );
    }
    const problem = gidProblem(gid);
    if (problem) throw new HttpException({ code: 'BAD_GID', message: problem }, 400);
    let lookup: ResourceLookup;
    try {
      lookup = await this.lookups.lookup(gid);
    } catch (error) {
      const failure = classifyError(error);
      const status = failure.code === 'RATE_LIMITED' ? 429 : failure.disposition === 'dead-letter' ? 500 : 503;
      throw new HttpException({ code: failure.code, message: failure.message }, status);
    }
    if (!lookup.found) response.status(404);
    return lookup;
  }
}
