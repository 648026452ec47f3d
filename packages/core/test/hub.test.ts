import fc from 'fast-check';
import {
  Hub,
  MemoryReplayer,
  SseFormatError,
  SseOptionsError,
  createConnection,
  formatEvent,
  type SseConnection,
} from '@ssekit/core';
import { isBroadcaster } from '../src/broadcaster';
import * as format from '../src/format';
import { Registry } from '@ssekit/core/integration';
import { FakeConnection, Inbox, closeAll, connect, parseWire, startServer, withTimeout } from './helpers';

afterEach(async () => {
  jest.restoreAllMocks();
  await closeAll();
});

describe('registry', () => {
  it('registers, subscribes, unsubscribes and unregisters', () => {
    const hub = new Hub();
    const a = new FakeConnection();
    const b = new FakeConnection();
    expect(isBroadcaster(hub)).toBe(true);
    hub.register(a);
    hub.register(a);
    hub.subscribe(b, 'news'); // subscribing registers
    hub.subscribe(a, 'news');
    hub.subscribe(a, 'sport');
    expect(hub.connectionCount()).toBe(2);
    expect(hub.topicCount('news')).toBe(2);
    expect(hub.topicCount('sport')).toBe(1);
    expect(hub.topicNames().sort()).toEqual(['news', 'sport']);
    expect([...hub.topicsOf(a)].sort()).toEqual(['news', 'sport']);
    hub.unsubscribe(a, 'sport');
    hub.unsubscribe(a, 'sport');
    hub.unsubscribe(a, 'unknown');
    expect(hub.topicCount('sport')).toBe(0);
    expect(hub.topicNames()).toEqual(['news']);
    hub.unregister(a);
    hub.unregister(a);
    expect(hub.connectionCount()).toBe(1);
    expect(hub.topicCount('news')).toBe(1);
    expect(a.listenerCount).toBe(0);
    b.end('client');
    expect(hub.connectionCount()).toBe(0);
    expect(hub.topicCount('news')).toBe(0);
    expect(hub.topicNames()).toEqual([]);
  });

  it('ignores closed connections and rejects bad topics', () => {
    const hub = new Hub();
    const closed = new FakeConnection();
    closed.end('client');
    hub.register(closed);
    hub.subscribe(closed, 't');
    expect(hub.connectionCount()).toBe(0);
    expect(hub.topicCount('t')).toBe(0);
    const open = new FakeConnection();
    for (const topic of ['', 'x'.repeat(257), 'a\nb', 'a\u0000', 'a\u007f', 42 as unknown as string]) {
      expect(() => hub.subscribe(open, topic)).toThrow(SseFormatError);
      expect(() => hub.broadcastTo(topic, { data: 'x' })).toThrow(SseFormatError);
    }
    expect(hub.connectionCount()).toBe(0);
    hub.subscribe(open, 'x'.repeat(256));
    expect(hub.topicCount('x'.repeat(256))).toBe(1);
  });

  it('rejects a replayer that is not one', () => {
    expect(() => new Hub({ replayer: {} as never })).toThrow(SseOptionsError);
  });
});

describe('delivery', () => {
  it('encodes once and hands the same bytes to every receiver', () => {
    const spy = jest.spyOn(format, 'formatEventBody');
    const hub = new Hub();
    const conns = [new FakeConnection(), new FakeConnection(), new FakeConnection()];
    for (const c of conns) hub.register(c);
    hub.broadcast({ id: '7', event: 'e', data: { x: 1 } });
    expect(spy).toHaveBeenCalledTimes(1);
    const first = conns[0]!.writes[0]!;
    for (const c of conns) {
      expect(c.writes).toHaveLength(1);
      expect(c.writes[0]!.bytes).toBe(first.bytes);
      expect(c.writes[0]!.id).toBe('7');
    }
    expect(parseWire(first.bytes).events).toEqual([{ id: '7', event: 'e', data: '{"x":1}' }]);
  });

  it('broadcastTo reaches only the topic subscribers', () => {
    const hub = new Hub();
    const news = new FakeConnection();
    const sport = new FakeConnection();
    const both = new FakeConnection();
    const none = new FakeConnection();
    hub.subscribe(news, 'news');
    hub.subscribe(sport, 'sport');
    hub.subscribe(both, 'news');
    hub.subscribe(both, 'sport');
    hub.register(none);
    hub.broadcastTo('news', { data: 'n' });
    hub.broadcastTo('sport', { data: 's' });
    hub.broadcastTo('nobody', { data: 'x' });
    hub.broadcast({ data: 'all' });
    expect(news.text).toBe('data: n\n\ndata: all\n\n');
    expect(sport.text).toBe('data: s\n\ndata: all\n\n');
    expect(both.text).toBe('data: n\n\ndata: s\n\ndata: all\n\n');
    expect(none.text).toBe('data: all\n\n');
  });

  it('hooks may replace or drop an event before delivery', () => {
    const hub = new Hub({
      onBroadcast: (event) => (event.data === 'drop' ? null : event.data === 'swap' ? { data: 'swapped' } : undefined),
    });
    hub.onBroadcastTo = (topic, event) => (topic === 'secret' ? null : { ...event, event: topic });
    const c = new FakeConnection();
    hub.subscribe(c, 'secret');
    hub.subscribe(c, 'public');
    expect(hub.broadcast({ data: 'drop' })).toBeNull();
    expect(hub.broadcast({ data: 'swap' })).toEqual({ data: 'swapped' });
    expect(hub.broadcast({ data: 'keep' })).toEqual({ data: 'keep' });
    expect(hub.broadcastTo('secret', { data: 's' })).toBeNull();
    expect(hub.broadcastTo('public', { data: 'p' })).toEqual({ event: 'public', data: 'p' });
    expect(c.text).toBe('data: swapped\n\ndata: keep\n\nevent: public\ndata: p\n\n');
  });

  it('an event that cannot be encoded throws before anyone (or the replayer) gets it', () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'p' });
    const hub = new Hub({ replayer });
    const c = new FakeConnection();
    hub.register(c);
    expect(() => hub.broadcast({ event: 'a\nb', data: 'x' })).toThrow(SseFormatError);
    expect(() => hub.broadcast({ id: 'a\rb', data: 'x' })).toThrow(SseFormatError);
    expect(c.writes).toEqual([]);
    expect(replayer.lastId()).toBeUndefined();
  });

  it('with a replayer, clients see the replayer ids', () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'boot1' });
    const hub = new Hub({ replayer });
    const c = new FakeConnection();
    hub.subscribe(c, 't');
    expect(hub.broadcast({ id: 'mine', data: 'a' })).toEqual({ id: 'boot1-1', data: 'a' });
    expect(hub.broadcastTo('t', { data: 'b' })).toEqual({ id: 'boot1-2', data: 'b' });
    expect(parseWire(Buffer.concat(c.writes.map((w) => w.bytes))).events).toEqual([
      { id: 'boot1-1', event: undefined, data: 'a' },
      { id: 'boot1-2', event: undefined, data: 'b' },
    ]);
    expect(c.writes.map((w) => w.id)).toEqual(['boot1-1', 'boot1-2']);
  });

  it('a connection whose write fails is unregistered and the others still receive', () => {
    const hub = new Hub();
    const good1 = new FakeConnection();
    const bad = new FakeConnection();
    const slow = new FakeConnection();
    const good2 = new FakeConnection();
    for (const c of [good1, bad, slow, good2]) hub.subscribe(c, 't');
    bad.failWith = new Error('write EPIPE');
    slow.closeOnWrite = true;
    hub.broadcastTo('t', { data: '1' });
    expect(hub.connectionCount()).toBe(2);
    expect(hub.topicCount('t')).toBe(2);
    hub.broadcast({ data: '2' });
    expect(good1.text).toBe('data: 1\n\ndata: 2\n\n');
    expect(good2.text).toBe('data: 1\n\ndata: 2\n\n');
    expect(slow.closeReason).toBe('slow');
    expect(bad.listenerCount).toBe(0);
    // A Registry's deliver, which the hub writes through, follows the same rule.
    const registry = new Registry();
    const [ok1, ok2, bad2] = [new FakeConnection(), new FakeConnection(), new FakeConnection()];
    for (const c of [ok1, bad2, ok2]) registry.register(c);
    bad2.failWith = new Error('boom');
    expect(registry.deliver(formatEvent({ data: '3' }), undefined)).toBe(2);
    expect(registry.connectionCount()).toBe(2);
    expect(bad2.closeReason).toBe('server');
    expect(ok2.text).toBe('data: 3\n\n');
  });

  it('close() closes every registered connection', () => {
    const hub = new Hub();
    const conns = [new FakeConnection(), new FakeConnection()];
    conns.forEach((c) => hub.subscribe(c, 't'));
    hub.close();
    expect(conns.map((c) => c.closeReason)).toEqual(['server', 'server']);
    expect(hub.connectionCount()).toBe(0);
    expect(hub.topicCount('t')).toBe(0);
  });
});

describe('model', () => {
  type Command =
    | { op: 'register' | 'unregister' | 'close' | 'broadcast'; i: number }
    | { op: 'subscribe' | 'unsubscribe' | 'broadcastTo'; i: number; topic: string };
  const topics = ['a', 'b', 'c'];
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({ op: fc.constantFrom('register' as const, 'unregister' as const, 'close' as const, 'broadcast' as const), i: fc.nat(5) }),
    fc.record({ op: fc.constantFrom('subscribe' as const, 'unsubscribe' as const, 'broadcastTo' as const), i: fc.nat(5), topic: fc.constantFrom(...topics) }),
  );

  it('counts and deliveries match a simple model after any sequence', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const hub = new Hub();
        const conns = Array.from({ length: 6 }, () => new FakeConnection());
        const model = new Map<number, Set<string>>();
        const expected = conns.map(() => [] as string[]);
        let n = 0;
        for (const cmd of commands) {
          const conn = conns[cmd.i]!;
          switch (cmd.op) {
            case 'register':
              hub.register(conn);
              if (!conn.closed && !model.has(cmd.i)) model.set(cmd.i, new Set());
              break;
            case 'unregister':
              hub.unregister(conn);
              model.delete(cmd.i);
              break;
            case 'close':
              conn.end('client');
              model.delete(cmd.i);
              break;
            case 'subscribe':
              hub.subscribe(conn, cmd.topic);
              if (!conn.closed) {
                if (!model.has(cmd.i)) model.set(cmd.i, new Set());
                model.get(cmd.i)!.add(cmd.topic);
              }
              break;
            case 'unsubscribe':
              hub.unsubscribe(conn, cmd.topic);
              model.get(cmd.i)?.delete(cmd.topic);
              break;
            case 'broadcast': {
              const data = String(n++);
              hub.broadcast({ data });
              for (const i of model.keys()) expected[i]!.push(data);
              break;
            }
            case 'broadcastTo': {
              const data = String(n++);
              hub.broadcastTo(cmd.topic, { data });
              for (const [i, subscribed] of model) if (subscribed.has(cmd.topic)) expected[i]!.push(data);
              break;
            }
          }
          expect(hub.connectionCount()).toBe(model.size);
          for (const topic of topics) {
            expect(hub.topicCount(topic)).toBe([...model.values()].filter((s) => s.has(topic)).length);
          }
        }
        conns.forEach((conn, i) => {
          expect(parseWire(Buffer.concat(conn.writes.map((w) => w.bytes))).events.map((e) => e.data)).toEqual(expected[i]);
          // A connection the hub no longer holds carries no listener of the hub.
          if (!model.has(i) && !conn.closed) expect(conn.listenerCount).toBe(0);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('with real clients', () => {
  async function hubServer(hub: Hub, topicsFor: (url: string) => string[] = () => []) {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => {
      const conn = createConnection(req, res, { heartbeatMs: 0 });
      for (const topic of topicsFor(req.url ?? '/')) hub.subscribe(conn, topic);
      hub.register(conn);
      conns.push(conn);
    });
    return { server, conns };
  }

  it('broadcast and broadcastTo arrive byte-exact at the right clients', async () => {
    const hub = new Hub();
    const { server, conns } = await hubServer(hub, (url) => (url === '/news' ? ['news'] : []));
    const plain = await connect(server.url + '/');
    await conns.next();
    const news = await connect(server.url + '/news');
    await conns.next();
    hub.broadcastTo('news', { id: 'n1', data: 'headline\nsecond line' });
    hub.broadcast({ event: 'all', data: '  é 🎉' });
    expect(await news.nextEvent()).toEqual({ id: 'n1', event: undefined, data: 'headline\nsecond line' });
    expect(await news.nextEvent()).toEqual({ id: undefined, event: 'all', data: '  é 🎉' });
    expect(await plain.nextEvent()).toEqual({ id: undefined, event: 'all', data: '  é 🎉' });
    expect(plain.text).toBe('event: all\ndata:   é 🎉\n\n');
    expect(news.text).toBe('id: n1\ndata: headline\ndata: second line\n\nevent: all\ndata:   é 🎉\n\n');
  });

  it('removes a connection within 100 ms of the client leaving', async () => {
    const hub = new Hub();
    const { server, conns } = await hubServer(hub, () => ['t']);
    const a = await connect(server.url);
    const connA = await conns.next();
    const b = await connect(server.url);
    await conns.next();
    expect(hub.connectionCount()).toBe(2);
    a.destroy();
    await withTimeout(connA.closedPromise(), 100, 'removal within 100 ms');
    expect(hub.connectionCount()).toBe(1);
    expect(hub.topicCount('t')).toBe(1);
    hub.broadcastTo('t', { data: 'still here' });
    expect((await b.nextEvent()).data).toBe('still here');
  });
});
