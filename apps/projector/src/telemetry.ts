import { startTelemetry } from '@asana-stream/telemetry';

// Imported first by main.ts: instrumentations patch modules only if they load after this.
startTelemetry({ serviceName: 'asana-stream-projector', env: process.env });
