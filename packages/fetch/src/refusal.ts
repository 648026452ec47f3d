/**
 * A refused stream as the plain `Response` a Fetch handler returns: there is no framework error
 * handler to turn an exception into a status.
 */
import { SseHttpError } from '@ssekit/core';

/**
 * Answers with the status, headers (`Retry-After`) and message of an {@link SseHttpError}; any
 * other error (an `authorize` that threw) is a 500 whose details stay on the server.
 */
export function refusal(error: unknown): Response {
  if (error instanceof SseHttpError) {
    return new Response(`${error.message}\n`, {
      status: error.status,
      headers: { ...error.headers, 'Content-Type': 'text/plain; charset=utf-8' },
    });
  }
  return new Response('Internal Server Error\n', { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}
