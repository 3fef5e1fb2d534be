import { Controller, Get, Header, Module, ServiceUnavailableException } from '@nestjs/common';
import { metricsExposition, metricsRegistry } from '@asana-stream/metrics';

/**
 * `GET /metrics`: the process's registry (`@asana-stream/metrics`) as Prometheus text, on the
 * app's HTTP port beside `/health`. A scrape only reads what the metrics hold (fanout's outbox
 * gauges read Postgres, bounded and cached); a failing scrape is a 503 and changes nothing else.
 */
@Controller()
class MetricsController {
  @Get('metrics')
  @Header('Content-Type', metricsRegistry.contentType)
  @Header('Cache-Control', 'no-store')
  async metrics(): Promise<string> {
    try {
      return (await metricsExposition()).text;
    } catch {
      throw new ServiceUnavailableException('metrics could not be collected');
    }
  }
}

@Module({ controllers: [MetricsController] })
export class MetricsModule {}
