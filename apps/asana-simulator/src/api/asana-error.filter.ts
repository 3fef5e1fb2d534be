import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { randomInt } from 'node:crypto';
import { SimulatorError, type SimulatorErrorCode } from '../simulator.errors';

/** The `help` Asana attaches to every error. */
export const ASANA_ERROR_HELP =
  'For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors';

const STATUS: Record<SimulatorErrorCode, number> = {
  NOT_AUTHORIZED: 401,
  INVALID_REQUEST: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NO_ROUTE: 404,
  HANDSHAKE_FAILED: 400,
  RATE_LIMITED: 429,
  SYNC_TOKEN_EXPIRED: 412,
  INJECTED_FAILURE: 503, // the error's own status decides
};

/**
 * Asana's error body: `{"errors":[{"message","help"}]}`, with a `phrase` on 500s for support to
 * look up, and a new `sync` token on an events 412.
 */
export interface AsanaErrorBody {
  errors: { message: string; help: string; phrase?: string }[];
  sync?: string;
}

/**
 * Turns whatever a request raised into Asana's status and error body: simulator errors by code,
 * Nest's own 404 for an unknown route into Asana's "No matching route", anything else into a 500
 * with a phrase. It is the only place that picks an HTTP status, and it is global, so `/_sim`
 * answers errors the same way.
 */
@Catch()
export class AsanaErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(AsanaErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const [status, message] = this.describe(exception);
    const body: AsanaErrorBody = { errors: [{ message, help: ASANA_ERROR_HELP }] };
    if (status >= 500) {
      body.errors[0].phrase = errorPhrase();
      this.logger.error({ message: 'request failed', phrase: body.errors[0].phrase, error: String(exception) });
    }
    if (exception instanceof SimulatorError) {
      for (const [name, value] of Object.entries(exception.headers)) response.setHeader(name, value);
      Object.assign(body, exception.body);
    }
    response.status(status).json(body);
  }

  private describe(exception: unknown): [number, string] {
    if (exception instanceof SimulatorError) return [exception.status ?? STATUS[exception.code], exception.message];
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return [404, 'No matching route for request'];
      if (status < 500) return [status, exception.message];
    }
    return [500, 'Server Error'];
  }
}

const ADJECTIVES = ['sad', 'happy', 'sleepy', 'brave', 'quiet', 'shiny', 'fuzzy', 'grumpy'];
const NOUNS = ['squid', 'otters', 'pandas', 'llamas', 'walruses', 'geckos', 'herons', 'moose'];
const VERBS = ['snuggle', 'dance', 'wander', 'whistle', 'juggle', 'ponder', 'hop', 'giggle'];
const ADVERBS = ['softly', 'boldly', 'slowly', 'gently', 'loudly', 'wisely', 'oddly', 'swiftly'];

/** A phrase shaped like Asana's ("6 sad squid snuggle softly"). */
function errorPhrase(): string {
  const pick = (words: string[]) => words[randomInt(words.length)];
  return `${randomInt(2, 100)} ${pick(ADJECTIVES)} ${pick(NOUNS)} ${pick(VERBS)} ${pick(ADVERBS)}`;
}
