/**
 * `authorize(req, topics)` with the two patterns that work with a browser's EventSource, which
 * cannot send custom headers: a session cookie (sent by the browser on its own, cross-origin
 * with `withCredentials`) and a token in the query string. Refused: 403 (or the status of an
 * `SseHttpError` the app throws, such as 401) and nothing opened or registered.
 */
import { SseHttpError, type Authorize } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { connect, serveCore, topicsFromQuery } from '@ssekit/testkit';
import { adapters, type RunningApp } from '@ssekit/testkit/adapters';

/** What an app would keep in its session store: session id -> topics the user may read. */
const sessions = new Map<string, string[]>([['s3cr3t', ['news', 'user:42']]]);
/** Short-lived stream tokens, e.g. minted by an authenticated `POST /stream-token`. */
const tokens = new Map<string, { topics: string[]; expires: number }>([
  ['tok-ok', { topics: ['news'], expires: Date.now() + 60_000 }],
  ['tok-expired', { topics: ['news'], expires: Date.now() - 1 }],
]);

/** The fields every framework's request object has: Express, Fastify, Koa's ctx, node:http. */
type AnyRequest = { headers: Record<string, string | string[] | undefined>; url?: string };

function cookie(req: AnyRequest, name: string): string | undefined {
  const header = req.headers['cookie'];
  for (const part of (Array.isArray(header) ? header.join(';') : (header ?? '')).split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** Cookie first, then `?token=`; unauthenticated is 401, authenticated but not allowed 403. */
const authorize: Authorize<unknown> = async (request, topics) => {
  const req = request as AnyRequest;
  const session = cookie(req, 'sid');
  let allowed: string[] | undefined = session === undefined ? undefined : sessions.get(session);
  if (allowed === undefined) {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    const grant = token === null ? undefined : tokens.get(token);
    if (grant && grant.expires > Date.now()) allowed = grant.topics;
  }
  if (allowed === undefined) throw new SseHttpError(401, 'Sign in to subscribe');
  return topics.every((topic) => allowed.includes(topic));
};

interface Target {
  /** Base URL, no trailing slash. */
  url: string;
  count(): Promise<number>;
  broadcast(topic: string, data: string): Promise<unknown>;
}

const cases: [string, string, Record<string, string>, number][] = [
  ['no credentials', '/events?topic=news', {}, 401],
  ['an unknown session cookie', '/events?topic=news', { cookie: 'sid=nope' }, 401],
  ['a session cookie, allowed topics', '/events?topic=news&topic=user:42', { cookie: 'theme=dark; sid=s3cr3t' }, 200],
  ['a session cookie, a topic not allowed', '/events?topic=news&topic=user:7', { cookie: 'sid=s3cr3t' }, 403],
  ['a query token', '/events?topic=news&token=tok-ok', {}, 200],
  ['a query token, a topic not allowed', '/events?topic=user:42&token=tok-ok', {}, 403],
  ['an expired query token', '/events?topic=news&token=tok-expired', {}, 401],
];

async function check(target: Target, path: string, headers: Record<string, string>, status: number): Promise<void> {
  const client = await connect(`${target.url}${path}`, headers);
  expect(client.status).toBe(status);
  if (status !== 200) {
    expect(client.headers['content-type'] ?? '').not.toContain('text/event-stream');
    expect(await target.count()).toBe(0);
    expect(heartbeatStats().members).toBe(0);
    return;
  }
  await target.broadcast('news', 'for members');
  const [event] = await client.waitForEvents(1);
  expect(event!.data).toBe('for members');
}

describe('on the core handler', () => {
  let target: Target;
  beforeEach(async () => {
    const { handler, server } = await serveCore({ authorize: authorize as Authorize }, topicsFromQuery);
    target = {
      url: server.url,
      count: async () => handler.connectionCount(),
      broadcast: async (topic, data) => handler.hub.broadcastTo(topic, { data }),
    };
  });
  test.each(cases)('%s', async (_what, path, headers, status) => check(target, path, headers, status));
});

describe.each(adapters.map((a) => [a.name, a] as const))('on %s', (_name, adapter) => {
  let app: RunningApp;
  let target: Target;
  beforeEach(async () => {
    app = await adapter.start({ authorize, heartbeatMs: 1000 }, async ({ sse, query }) => {
      await sse({ topics: query.getAll('topic') });
    });
    target = {
      url: `http://127.0.0.1:${app.port}`,
      count: async () => app.hub.connectionCount(),
      broadcast: async (topic, data) => app.hub.broadcastTo(topic, { data }),
    };
  });
  test.each(cases)('%s', async (_what, path, headers, status) => {
    await check(target, path, headers, status);
    expect(app.logs).toEqual([]);
  });
});
