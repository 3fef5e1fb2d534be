import { counter, gauge } from '@asana-stream/metrics';

/* The Events API's metrics, by endpoint (poll: GET /events; stream: GET /events/stream). No label names a consumer. */

export const eventsApiRequests = counter({
  name: 'asana_stream_events_api_requests_total',
  help: 'Events API requests answered, by endpoint (poll, stream) and HTTP status (a stream counts once, when it starts or is refused).',
  labelNames: ['endpoint', 'status'] as const,
});

export const eventsApiChanges = counter({
  name: 'asana_stream_events_api_changes_total',
  help: 'Changes the Events API served, by endpoint (poll, stream).',
  labelNames: ['endpoint'] as const,
});

export const eventsApiStreams = gauge({
  name: 'asana_stream_events_api_streams',
  help: 'Server-Sent Events streams open now.',
});
