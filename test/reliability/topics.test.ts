/**
 * Topic names often come from the request (`?topic=...`). A hostile one is answered 400 before
 * anything opens: no event-stream headers, nothing registered on the hub, no heartbeat.
 */
import type { OpenOptions } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { connect, serveCore, topicsFromQuery } from '@ssekit/testkit';
import { adapters, type RunningApp } from '@ssekit/testkit/adapters';

/** Names that must be refused, as they would arrive in a query string. */
const hostileInQuery: [string, string][] = [
  ['empty', ''],
  ['a line feed', 'news\nevent: evil'],
  ['a carriage return', 'news\r'],
  ['NUL', 'news\0'],
  ['DEL', 'news\u007f'],
  ['a C1 control (NEL)', 'news\u0085'],
  ['a tab', 'a\tb'],
  ['257 characters', 'n'.repeat(257)],
  ['10,000 characters', 'n'.repeat(10_000)],
];

const queryOf = (topics: string[]) => topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&');

/** The route used everywhere: topics from the query; `lone` and `notArray` send what a query cannot. */
function topicsFrom(query: URLSearchParams): OpenOptions {
  if (query.has('lone')) return { topics: ['ok', '\uD800'] };
  if (query.has('notArray')) return { topics: 'news' as unknown as string[] };
  return { topics: query.getAll('topic') };
}

describe('on the core handler', () => {
  test.each(hostileInQuery)('a topic with %s: 400, nothing opened', async (_what, topic) => {
    const { handler, refused, server } = await serveCore({ heartbeatMs: 1000 }, (url) => topicsFrom(url.searchParams));
    const client = await connect(`${server.url}/events?${queryOf(['fine', topic])}`);
    expect(client.status).toBe(400);
    expect(client.headers['content-type'] ?? '').not.toContain('text/event-stream');
    expect(refused.items).toHaveLength(1);
    expect(handler.hub.connectionCount()).toBe(0);
    expect(handler.connectionCount()).toBe(0);
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  });

  test('a lone surrogate or a topics value that is not a list: 400', async () => {
    const { handler, server } = await serveCore({}, (url) => topicsFrom(url.searchParams));
    for (const path of ['/events?lone=1', '/events?notArray=1']) {
      const client = await connect(`${server.url}${path}`);
      expect(client.status).toBe(400);
    }
    expect(handler.hub.connectionCount()).toBe(0);
  });

  test('256 characters and any printable Unicode are fine', async () => {
    const { handler, server } = await serveCore({ heartbeatMs: 0 }, topicsFromQuery);
    const topics = ['n'.repeat(256), 'nouvelles/été 😀', 'a:b; c=d'];
    const client = await connect(`${server.url}/events?${queryOf(topics)}`);
    expect(client.status).toBe(200);
    for (const topic of topics) expect(handler.hub.topicCount(topic)).toBe(1);
  });
});

describe.each(adapters.map((a) => [a.name, a] as const))('on %s', (_name, adapter) => {
  let app: RunningApp;
  beforeEach(async () => {
    app = await adapter.start({ heartbeatMs: 1000 }, async ({ sse, query }) => {
      await sse(topicsFrom(query));
    });
  });

  test.each([...hostileInQuery, ['a lone surrogate', 'lone'] as [string, string]])('a topic with %s: 400, nothing opened', async (what, topic) => {
    const client = await connect(what === 'a lone surrogate' ? `${app.url}?lone=1` : `${app.url}?${queryOf(['fine', topic])}`);
    expect(client.status).toBe(400);
    expect(client.headers['content-type'] ?? '').not.toContain('text/event-stream');
    expect(await app.hub.connectionCount()).toBe(0);
    expect(app.connections).toEqual([]);
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
    expect(app.logs).toEqual([]);
  });
});
