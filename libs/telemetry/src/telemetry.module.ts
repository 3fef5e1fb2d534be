import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { shutdownTelemetry } from './start-telemetry';

class TelemetryShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await shutdownTelemetry();
  }
}

/** Flushes buffered spans when the app shuts down (SIGTERM), after everything else has closed. */
@Module({ providers: [TelemetryShutdown] })
export class TelemetryModule {}
