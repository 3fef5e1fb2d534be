/** What the Events API answers besides 200, each with a stable code and a message saying what to do. */
export const EVENTS_API_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN_TYPES',
  'FORBIDDEN_ROUTE',
  'UNKNOWN_ROUTE',
  'INVALID_QUERY',
  'INVALID_CURSOR',
  'CURSOR_EXPIRED',
  'UNAVAILABLE',
] as const;
export type EventsApiErrorCode = (typeof EVENTS_API_ERROR_CODES)[number];

const STATUS: Record<EventsApiErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN_TYPES: 403,
  FORBIDDEN_ROUTE: 403,
  UNKNOWN_ROUTE: 404,
  INVALID_QUERY: 400,
  INVALID_CURSOR: 400,
  CURSOR_EXPIRED: 410,
  UNAVAILABLE: 503,
};

export class EventsApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: EventsApiErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }

  toBody(): { error: EventsApiErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}
