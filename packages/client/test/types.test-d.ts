/**
 * Type test, compiled by `npm run typecheck` and never run: listeners and the iterator are
 * typed from the event map, and misuse does not compile.
 */
import { connect, type EventStream, type SseClientError, type SseMessage } from '@ssekit/client';

type Events = {
  tick: { symbol: string; price: number };
  chat: { name: string; text: string };
  /** Events sent without a name. */
  message: string;
  /** A server event named like a lifecycle event: only the iterator can receive it. */
  error: { reason: string };
};

const stream: EventStream<Events> = connect<Events>('/events?topics=ticker', {
  headers: async ({ attempt }) => ({ authorization: `Bearer ${attempt}` }),
  query: { topics: ['ticker', 'chat'], since: 3, live: true },
  retry: { initialMs: 500, jitter: 1 },
  heartbeatTimeoutMs: 0,
  parse: (text, event) => (event === 'message' ? text : JSON.parse(text)),
});

// Listeners: data typed by the name, the message carrying the id.
stream.on('tick', (tick, meta) => {
  const price: number = tick.price;
  const id: string | undefined = meta.id;
  const name: 'tick' = meta.event;
  void [price.toFixed(2), id, name];
});
stream.on('message', (text) => text.toUpperCase());
stream.on('chat', (chat) => chat.text.trim()).on('tick', () => {});

// @ts-expect-error an event the map does not have
stream.on('tikc', () => {});
// @ts-expect-error a tick has no text
stream.on('tick', (tick) => tick.text);
// @ts-expect-error the unnamed event's data is a string
stream.on('message', (text) => text.toFixed(2));
// @ts-expect-error chat data is not a string
stream.on('chat', (chat: string) => chat);

// The client's own events.
stream.on('open', (info) => info.status + (info.reconnect ? 1 : 0));
stream.on('error', (error: SseClientError, info) => (info.willRetry ? info.delayMs : error.status));
stream.on('gap', (gap) => gap.lastEventId?.length);
stream.on('done', ({ status }) => status);
stream.on('close', ({ reason, error }) => (reason === 'error' ? error?.code : reason));
// @ts-expect-error an error listener gets the error, not event data
stream.on('error', (data: { reason: string }) => data.reason);
// @ts-expect-error not a close reason
stream.on('close', ({ reason }) => reason === 'timeout');

// The iterator: a union narrowed by the name, lifecycle-named server events included.
async function consume(): Promise<void> {
  for await (const event of stream) {
    if (event.event === 'tick') {
      const price: number = event.data.price;
      void price;
      // @ts-expect-error a tick is not a chat message
      void event.data.text;
    } else if (event.event === 'error') {
      const reason: string = event.data.reason;
      void reason;
    } else if (event.event === 'message') {
      const text: string = event.data;
      void text;
    }
    const id: string | undefined = event.id;
    void id;
  }
}
void consume;

const one: SseMessage<Events, 'chat'> = { event: 'chat', data: { name: 'a', text: 'b' }, id: '1', lastEventId: '1', text: '{}' };
// @ts-expect-error the data must match the event name
const wrong: SseMessage<Events, 'chat'> = { event: 'chat', data: { symbol: 'x', price: 1 }, id: '1', lastEventId: '1', text: '{}' };
void [one, wrong];

// Untyped: any name, unknown data.
const untyped = connect('/events');
untyped.on('anything', (data) => {
  // @ts-expect-error unknown data must be narrowed first
  void data.length;
  if (typeof data === 'string') void data.length;
});

// Options are checked.
// @ts-expect-error a typo in an option name
connect('/events', { heartbeatTimeoutMS: 1000 });
// @ts-expect-error retry is an object or false
connect('/events', { retry: true });
// @ts-expect-error parse modes are fixed
connect('/events', { parse: 'xml' });

const ms: number | undefined = stream.lastEventId?.length;
const state: 'connecting' | 'open' | 'closed' = stream.state;
const role: 'private' | 'leader' | 'follower' = stream.role;
void [ms, state, role];
stream.close();
