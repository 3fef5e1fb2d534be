import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

/**
 * Hands a consumer handler's error to `KafkaConsumerServer` as it was thrown. Nest's default
 * filter for microservices logs the error with its stack and replaces it by
 * `{ status: 'error', message: 'Internal server error' }`, which would leave the transport
 * nothing to classify; the transport logs each failure once, where it decides what to do.
 * Register it on the microservice: `microservice.useGlobalFilters(new KafkaConsumerErrorFilter())`.
 */
@Catch()
export class KafkaConsumerErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
