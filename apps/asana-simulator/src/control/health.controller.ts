import { Controller, Get } from '@nestjs/common';

/**
 * Health for scripts, compose and tests, on the same paths as the apps' probes: the simulator
 * keeps all state in memory, so up means ready.
 */
@Controller('health')
export class HealthController {
  @Get(['', 'live', 'ready'])
  health() {
    return { status: 'ok' };
  }
}
