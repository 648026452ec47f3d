/**
 * A recording event-stream client: connects with `node:http` (optionally with a
 * `Last-Event-ID`), parses with eventsource-parser and lets a test await the next events.
 */
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';

/** One received event. */
export interface Received {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export class SseClient {
  readonly events: Received[] = [];
  private read = 0;
  private wake: (() => void) | undefined;
  private ended = false;

  private constructor(
    private readonly request: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    const parser = createParser({
      onEvent: (event) => {
        this.events.push({ id: event.id, event: event.event, data: event.data });
        this.wake?.();
      },
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => parser.feed(chunk));
    response.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** Opens a stream; resolves once the response headers arrived. */
  static connect(url: string, lastEventId?: string): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const request = get(url, { headers, agent: false }, (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`status ${response.statusCode}`));
          response.resume();
          return;
        }
        resolve(new SseClient(request, response));
      });
      request.on('error', reject);
    });
  }

  /** True while the server keeps the stream open. */
  get open(): boolean {
    return !this.ended;
  }

  /** The next `count` events not yet taken (waits up to `timeoutMs`). */
  async next(count: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length - this.read < count) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new Error(`expected ${count} events, got ${this.events.length - this.read}: ${JSON.stringify(this.events.slice(this.read))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const taken = this.events.slice(this.read, this.read + count);
    this.read += count;
    return taken;
  }

  /** Events received but not taken by {@link SseClient.next}. */
  rest(): Received[] {
    return this.events.slice(this.read);
  }

  /** Drops the connection (as a client going away would). */
  close(): void {
    this.request.destroy();
  }
}

/** Polls `check` until it returns true, for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
