/**
 * `schemas` on `fetchSse<Events>()`, over a real HTTP server (Node, through @hono/node-server):
 * invalid data rejects with `SseValidationError` before it is stored or written, on the hub and
 * on the connection given to `onOpen`, with Standard Schemas from zod and valibot.
 */
import { createAdaptorServer } from '@hono/node-server';
import * as v from 'valibot';
import { z } from 'zod';
import { fetchSse, MemoryReplayer, SseValidationError, type Connection } from '@ssekit/fetch';
import { connect, deferred, listen, waitFor } from '@ssekit/testkit';
import type { StandardSchemaV1 } from '@ssekit/core';

type Events = { tick: { symbol: string; price: number }; message: string };

const libraries: Array<[string, { tick: StandardSchemaV1<Events['tick']>; message: StandardSchemaV1<string> }]> = [
  ['zod', { tick: z.object({ symbol: z.string(), price: z.number() }), message: z.string() }],
  ['valibot', { tick: v.object({ symbol: v.string(), price: v.number() }), message: v.string() }],
];

/** What a call threw, or `undefined`. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(libraries)('fetchSse schemas from %s', (_name, schemas) => {
  test('hub broadcasts of invalid data throw SseValidationError, and nothing is stored or delivered', async () => {
    const replayer = new MemoryReplayer(10);
    const sse = fetchSse<Events>({ schemas, replayer, heartbeatMs: 0 });
    const { url, close } = await listen(createAdaptorServer({ fetch: (request: Request) => sse.response(request, { topics: ['ticker'] }) }));
    const client = await connect(`${url}/events`);
    expect(client.status).toBe(200);
    await waitFor(() => sse.hub.topicCount('ticker') === 1, 2000, 'the stream to subscribe');

    const wrong = thrown(() => sse.hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A', price: 'high' } as unknown as Events['tick'] }));
    expect(wrong).toBeInstanceOf(SseValidationError);
    const error = wrong as SseValidationError;
    expect(error.code).toBe('validation');
    expect(error.event).toBe('tick');
    expect(error.issues[0]!.path?.map((p) => (typeof p === 'object' ? p.key : p))).toEqual(['price']);
    expect(thrown(() => sse.hub.broadcast({ data: 42 as unknown as string }))).toBeInstanceOf(SseValidationError);
    expect(replayer.size).toBe(0);

    const stored = sse.hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A', price: 1 } });
    expect(replayer.size).toBe(1);
    const [event] = await client.take(1);
    expect(event).toMatchObject({ event: 'tick', data: '{"symbol":"A","price":1}', id: stored!.id });
    // Delivery is in order: a rejected event would have come first.
    expect(client.events).toHaveLength(1);
    client.close();
    await sse.close();
    await close();
  });

  test('send and pipe on the onOpen connection reject invalid data with nothing written', async () => {
    const sse = fetchSse<Events>({ schemas, heartbeatMs: 0 });
    const done = deferred<unknown[]>();
    const onOpen = async (conn: Connection<Events>): Promise<void> => {
      const outcomes: unknown[] = [];
      outcomes.push(await conn.send({ event: 'tick', data: { symbol: 'B' } as Events['tick'] }).catch((e: unknown) => e));
      outcomes.push(await conn.pipe(['ok', { event: 'tick', data: null as unknown as Events['tick'] }, 'never']).catch((e: unknown) => e));
      outcomes.push(await conn.send({ data: 7 as unknown as string }).catch((e: unknown) => e));
      outcomes.push(await conn.send({ event: 'tick', data: { symbol: 'B', price: 2 } }));
      done.resolve(outcomes);
    };
    const { url, close } = await listen(createAdaptorServer({ fetch: (request: Request) => sse.response(request, {}, onOpen) }));
    const client = await connect(`${url}/events`);
    const events = await client.take(2);
    expect(events.map((e) => [e.event ?? 'message', e.data])).toEqual([
      ['message', 'ok'],
      ['tick', '{"symbol":"B","price":2}'],
    ]);
    const outcomes = await done.promise;
    expect(outcomes[0]).toBeInstanceOf(SseValidationError);
    expect(outcomes[1]).toBeInstanceOf(SseValidationError);
    expect((outcomes[2] as SseValidationError).event).toBe('message');
    expect(outcomes[3]).toBe(true);
    expect(client.text).not.toContain('null');
    expect(client.text).not.toContain('never');
    client.close();
    await sse.close();
    await close();
  });
});
