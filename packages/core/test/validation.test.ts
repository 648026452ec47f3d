/**
 * Runtime validation with `schemas`: Standard Schemas from zod and valibot check event data on
 * the hub and on connections, before anything is stored or written.
 */
import http from 'node:http';
import express from 'express';
import * as v from 'valibot';
import { z } from 'zod';
import { Hub, MemoryReplayer, SseError, SseOptionsError, SseValidationError, type StandardSchemaV1 } from '@ssekit/core';
import { expressSse } from '@ssekit/express';
import { connect, listen } from '@ssekit/testkit';

type Events = { tick: { symbol: string; price: number }; message: string };

const libraries: Array<[string, { tick: StandardSchemaV1<Events['tick']>; message: StandardSchemaV1<string> }]> = [
  ['zod', { tick: z.object({ symbol: z.string(), price: z.number() }), message: z.string() }],
  ['valibot', { tick: v.object({ symbol: v.string(), price: v.number() }), message: v.string() }],
];

describe.each(libraries)('schemas from %s', (_name, schemas) => {
  test('the hub throws SseValidationError for invalid data, before storing or delivering it', async () => {
    const replayer = new MemoryReplayer(10);
    const hub = new Hub<Events>({ replayer, schemas });
    const app = express();
    const sse = expressSse<Events>({ hub, replayer, heartbeatMs: 0 });
    app.use(sse);
    app.get('/events', async (_req, res) => {
      await res.sse<Events>();
    });
    const { url, server } = await listen(http.createServer(app));
    const client = await connect(`${url}/events`);

    hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
    let caught: unknown;
    try {
      hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 'high' } as unknown as Events['tick'] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SseValidationError);
    expect(caught).toBeInstanceOf(SseError);
    const error = caught as SseValidationError;
    expect(error.code).toBe('validation');
    expect(error.event).toBe('tick');
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0]!.path?.map((p) => (typeof p === 'object' ? p.key : p))).toEqual(['price']);
    expect(() => hub.broadcastTo('t', { data: 42 as unknown as string })).toThrow(SseValidationError);
    expect(replayer.size).toBe(1);

    hub.broadcast({ data: 'after' });
    const [first, second] = await client.take(2);
    expect(first).toMatchObject({ event: 'tick', data: '{"symbol":"A","price":1}' });
    expect(second).toMatchObject({ data: 'after' });
    expect(second!.event ?? 'message').toBe('message');
    expect(replayer.size).toBe(2);
    // Events with neither name nor data (id or retry only) are not checked.
    expect(() => hub.broadcast({ retry: 500 })).not.toThrow();
    client.close();
    await sse.close(server);
  });

  test('connections reject send and pipe of invalid data with nothing written', async () => {
    const app = express();
    const sse = expressSse<Events>({ schemas, heartbeatMs: 0 });
    app.use(sse);
    const outcomes: unknown[] = [];
    app.get('/events', async (_req, res) => {
      const conn = await res.sse<Events>();
      outcomes.push(await conn.send({ event: 'tick', data: { symbol: 'B' } as Events['tick'] }).catch((e: unknown) => e));
      outcomes.push(await conn.pipe(['ok', { event: 'tick', data: null as unknown as Events['tick'] }, 'never']).catch((e: unknown) => e));
      outcomes.push(await conn.send({ event: 'tick', data: { symbol: 'B', price: 2 } }));
      // The adapter's default hub checks broadcasts too.
      try {
        sse.hub.broadcast({ event: 'tick', data: 'x' as unknown as Events['tick'] });
      } catch (error) {
        outcomes.push(error);
      }
      // Names without a schema are not checked.
      outcomes.push(await conn.send({ event: 'other', data: 1 } as never));
    });
    const { url, server } = await listen(http.createServer(app));
    const client = await connect(`${url}/events`);
    const events = await client.take(3);
    expect(events.map((e) => [e.event ?? 'message', e.data])).toEqual([
      ['message', 'ok'],
      ['tick', '{"symbol":"B","price":2}'],
      ['other', '1'],
    ]);
    expect(outcomes[0]).toBeInstanceOf(SseValidationError);
    expect(outcomes[1]).toBeInstanceOf(SseValidationError);
    expect(outcomes[2]).toBe(true);
    expect(outcomes[3]).toBeInstanceOf(SseValidationError);
    expect(outcomes[4]).toBe(true);
    expect(client.text).not.toContain('null');
    client.close();
    await sse.close(server);
  });
});

test('a schema that validates asynchronously is refused with SseOptionsError, nothing delivered', () => {
  const replayer = new MemoryReplayer(10);
  const slow = z.string().refine(async (s) => s.length > 0);
  const hub = new Hub<Events>({ replayer, schemas: { message: slow } });
  expect(() => hub.broadcast({ data: 'x' })).toThrow(SseOptionsError);
  expect(replayer.size).toBe(0);
});

test('schemas must be Standard Schemas', () => {
  expect(() => new Hub({ schemas: { tick: { parse: () => 1 } as never } })).toThrow(SseOptionsError);
  expect(() => new Hub({ schemas: 'zod' as never })).toThrow(SseOptionsError);
  expect(() => expressSse({ schemas: { tick: 1 as never } })).toThrow(SseOptionsError);
  // A name such as `constructor` finds no schema of Object.prototype.
  const hub = new Hub({ schemas: { tick: z.number() } });
  expect(() => hub.broadcast({ event: 'constructor', data: 1 })).not.toThrow();
});
