import { Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Sockets the server cut off (and logged), so the body parser's `request aborted` is not logged again. */
const cutOff = new WeakSet<object>();

/** Whether the server cut this request's socket off itself: the one log line was written then. */
export function wasCutOff(socket: object | undefined): boolean {
  return socket !== undefined && cutOff.has(socket);
}

/** What Node answers, without a `clientError` listener, to a request it could not read. */
const ANSWERS: Readonly<Record<string, string>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * Handles what Node's HTTP server reports as a `clientError` (a request or its headers not in
 * by their timeout, bytes that are not HTTP) as Node does by default, answering and closing the
 * socket, but with one info line instead of silence: a slow or broken client is the client's
 * problem, not an error of ours. A connection reset is not logged here (load balancers reset idle
 * connections): if it cut a body short, the body parser reports it, as `request aborted by the client`.
 */
export function handleClientErrors(
  server: Server,
  timeouts: { requestTimeoutMs: number; headersTimeoutMs: number },
): void {
  const log = new Logger('IngestHttp');
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const code = error.code ?? 'unknown';
    if (code !== 'ECONNRESET') {
      cutOff.add(socket);
      const remoteAddress = (socket as Partial<Socket>).remoteAddress;
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT') log.log({ msg: 'request timed out', ...timeouts, remoteAddress });
      // The client closed its side with a request half sent.
      else if (code === 'HPE_INVALID_EOF_STATE') log.log({ msg: 'request aborted by the client', remoteAddress });
      else log.log({ msg: 'request not readable', code, remoteAddress });
      // As Node does: answer unless a response is already on its way on this socket (keep-alive).
      const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (socket.writable && !inFlight?.headersSent) socket.write(ANSWERS[code] ?? BAD_REQUEST);
    }
    socket.destroy(error);
  });
}
