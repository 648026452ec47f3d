import {
  Hub,
  MemoryReplayer,
  RESET_EVENT,
  SseConnection,
  SseOptionsError,
  createSseHandler,
  withReplay,
  type ReplayOptions,
  type ReplayResult,
  type ReplaySend,
  type SseEvent,
  type SyncReplayer,
  type SseHandler,
  type StoredEvent,
} from '@ssekit/core';
import { EventSource } from 'eventsource';
import { Inbox, closeAll, connect, handlerServer, parseWire, recordingSink, track, waitFor, type SseRecorder } from './helpers';

afterEach(closeAll);

/** Replays into an array and returns what was sent with the result. */
async function replayAll(replayer: MemoryReplayer, afterId: string, topics?: string[]) {
  const sent: StoredEvent[] = [];
  const encoded: Uint8Array[] = [];
  const result = await replayer.replay(
    afterId,
    (event, bytes) => {
      sent.push(event);
      encoded.push(bytes);
    },
    topics === undefined ? {} : { topics },
  );
  return { ...result, sent, data: sent.map((e) => e.data), encoded };
}

describe('MemoryReplayer', () => {
  it('assigns ids <prefix>-<n> and replays everything after an id, with ids on the wire', async () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'boot' });
    expect(replayer.lastId()).toBeUndefined();
    const stored = [1, 2, 3, 4].map((n) => replayer.store({ event: 'e', data: String(n) }));
    expect(stored.map((e) => e.id)).toEqual(['boot-1', 'boot-2', 'boot-3', 'boot-4']);
    expect(replayer.lastId()).toBe('boot-4');
    const r = await replayAll(replayer, 'boot-2');
    expect(r).toEqual(expect.objectContaining({ count: 2, gap: false, data: ['3', '4'] }));
    expect(parseWire(Buffer.concat(r.encoded)).events).toEqual([
      { id: 'boot-3', event: 'e', data: '3' },
      { id: 'boot-4', event: 'e', data: '4' },
    ]);
    expect(await replayAll(replayer, 'boot-4')).toEqual(expect.objectContaining({ count: 0, gap: false }));
  });

  it('reports a gap once the first missed event was evicted from the ring', async () => {
    const replayer = new MemoryReplayer(3, 0, { prefix: 'r' });
    for (let n = 1; n <= 5; n++) replayer.store({ data: String(n) }); // retains 3, 4, 5
    expect(replayer.size).toBe(3);
    expect(await replayAll(replayer, 'r-2')).toEqual(expect.objectContaining({ count: 3, gap: false, data: ['3', '4', '5'] }));
    expect(await replayAll(replayer, 'r-1')).toEqual(expect.objectContaining({ count: 0, gap: true, sent: [] }));
  });

  it('checks the TTL at replay time', async () => {
    let now = 1000;
    const replayer = new MemoryReplayer(100, 500, { prefix: 't', now: () => now });
    replayer.store({ data: 'a' }); // at 1000
    now = 1300;
    replayer.store({ data: 'b' }); // at 1300
    replayer.store({ data: 'c' });
    expect(await replayAll(replayer, 't-1')).toEqual(expect.objectContaining({ gap: false, data: ['b', 'c'] }));
    now = 1501; // 'a' expired: nothing after t-0 can be trusted, but after t-1 still can
    expect(await replayAll(replayer, 't-0')).toEqual(expect.objectContaining({ gap: true, count: 0 }));
    expect(await replayAll(replayer, 't-1')).toEqual(expect.objectContaining({ gap: false, data: ['b', 'c'] }));
    now = 1801; // now 'b' and 'c' expired too, without any store in between
    expect(await replayAll(replayer, 't-1')).toEqual(expect.objectContaining({ gap: true, count: 0 }));
    expect(await replayAll(replayer, 't-3')).toEqual(expect.objectContaining({ gap: false, count: 0 }));
  });

  it("ids are unique per instance: another instance's (or a previous boot's) id is a gap", async () => {
    const before = new MemoryReplayer();
    const after = new MemoryReplayer();
    expect(before.prefix).not.toBe(after.prefix);
    const old = before.store({ data: 'x' });
    after.store({ data: 'y' });
    after.store({ data: 'z' });
    expect(old.id).not.toBe(after.lastId());
    expect(await replayAll(after, old.id)).toEqual(expect.objectContaining({ gap: true, count: 0 }));
  });

  it.each(['', 'garbage', 'p-', 'p-01', 'p--1', 'p-1.5', 'p-1e3', 'p-99999999999999999999', 'p-9', 'P-1', 'px-1', ' p-1', 'p-1 '])(
    'malformed or ahead id %j is a gap',
    async (id) => {
      const replayer = new MemoryReplayer(10, 0, { prefix: 'p' });
      replayer.store({ data: '1' });
      replayer.store({ data: '2' });
      expect(await replayAll(replayer, id)).toEqual(expect.objectContaining({ gap: true, count: 0 }));
    },
  );

  it('replays the topics of the connection plus untargeted events', async () => {
    const replayer = new MemoryReplayer(100, 0, { prefix: 'x' });
    replayer.store({ data: 'start' });
    replayer.store({ data: 'all-1' });
    replayer.store({ data: 'a-1' }, 'a');
    replayer.store({ data: 'b-1' }, 'b');
    replayer.store({ data: 'all-2' });
    replayer.store({ data: 'c-1' }, 'c');
    expect((await replayAll(replayer, 'x-1', ['a'])).data).toEqual(['all-1', 'a-1', 'all-2']);
    expect((await replayAll(replayer, 'x-1', ['a', 'c'])).data).toEqual(['all-1', 'a-1', 'all-2', 'c-1']);
    expect((await replayAll(replayer, 'x-1', [])).data).toEqual(['all-1', 'all-2']);
    expect((await replayAll(replayer, 'x-1')).data).toEqual(['all-1', 'a-1', 'b-1', 'all-2', 'c-1']);
  });

  it('replays what was sent even when the app changes the object afterwards', async () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'm' });
    const state = { count: 1, items: ['a'] };
    const bytes = new TextEncoder().encode('raw');
    replayer.store({ data: 'start' });
    const stored = replayer.store({ data: state });
    replayer.store({ data: bytes });
    state.count = 2;
    state.items.push('b');
    bytes[0] = 0x52; // 'R'
    const r = await replayAll(replayer, 'm-1');
    expect(parseWire(Buffer.concat(r.encoded)).events.map((e) => e.data)).toEqual(['{"count":1,"items":["a"]}', 'raw']);
    // The caller still gets its own event back.
    expect(stored.data).toBe(state);
  });

  it('validates its options', () => {
    expect(() => new MemoryReplayer(0)).toThrow(SseOptionsError);
    expect(() => new MemoryReplayer(1.5)).toThrow(SseOptionsError);
    expect(() => new MemoryReplayer(10, -1)).toThrow(SseOptionsError);
    expect(() => new MemoryReplayer(10, 0, { prefix: 'has-dash' })).toThrow(SseOptionsError);
  });
});

describe('withReplay', () => {
  it('a failing replayer counts as a gap and the connection stays registered', async () => {
    const hub = new Hub();
    const wire: string[] = [];
    const conn = new SseConnection(recordingSink((text) => wire.push(text)), { heartbeatMs: 0 });
    const result = await withReplay(conn, {
      hub,
      replayer: { store: () => ({ id: '1' }), replay: () => Promise.reject(new Error('down')) },
      lastEventId: 'x',
      resetEvent: { event: 'refresh', data: 'now' },
    });
    expect(result).toEqual({ count: 0, gap: true });
    expect(conn.replayGap).toBe(true);
    expect(parseWire(wire.join('')).events).toEqual([{ id: undefined, event: 'refresh', data: 'now' }]);
    expect(hub.connectionCount()).toBe(1);
  });
});

describe('replay through createSseHandler', () => {
  it('an unknown id sets replayGap and, with resetEvent, sends ssekit-reset', async () => {
    const replayer = new MemoryReplayer(100);
    const { handler, opened, server } = await handlerServer({ replayer, heartbeatMs: 0, resetEvent: true });
    handler.hub.broadcast({ data: 'before' });
    const client = await connect(server.url, { 'Last-Event-ID': 'somebody-else-1' });
    const conn = await opened.next();
    expect(conn.replayGap).toBe(true);
    expect(conn.lastEventId).toBe('somebody-else-1');
    expect(await client.nextEvent()).toEqual({ id: undefined, event: RESET_EVENT.event, data: 'gap' });
    handler.hub.broadcast({ data: 'live' });
    expect((await client.nextEvent()).data).toBe('live');
  });

  it('without resetEvent a gap is only exposed on the connection', async () => {
    const { handler, opened, server } = await handlerServer({ replayer: new MemoryReplayer(100), heartbeatMs: 0 });
    const client = await connect(server.url + '/?lastEventId=nope');
    const conn = await opened.next();
    expect(conn.replayGap).toBe(true);
    handler.hub.broadcast({ data: 'live' });
    expect((await client.nextEvent()).data).toBe('live');
    expect(client.text).toBe(`id: ${(handler.replayer as MemoryReplayer).lastId()}\ndata: live\n\n`);
  });

  it('a known id replays what was missed, then live events, once each', async () => {
    const replayer = new MemoryReplayer(100, 0, { prefix: 'k' });
    const { handler, opened, server } = await handlerServer({ replayer, heartbeatMs: 0, resetEvent: true }, () => ({ topics: ['a'] }));
    handler.hub.broadcast({ data: '1' });
    handler.hub.broadcastTo('a', { data: '2' });
    handler.hub.broadcastTo('b', { data: 'not mine' });
    handler.hub.broadcast({ data: '3' });
    const client = await connect(server.url, { 'Last-Event-ID': 'k-1' });
    const conn = await opened.next();
    expect(conn.replayGap).toBe(false);
    handler.hub.broadcastTo('a', { data: '4' });
    for (const [id, data] of [['k-2', '2'], ['k-4', '3'], ['k-5', '4']]) {
      expect(await client.nextEvent()).toEqual({ id, event: undefined, data });
    }
  });

  /**
   * A replayer that yields to the event loop before taking its snapshot and between the events
   * it sends (as a remote one does), so live broadcasts land in the middle of the handoff.
   */
  class LaggingReplayer implements SyncReplayer {
    constructor(private readonly inner: MemoryReplayer) {}
    store(event: SseEvent, topic?: string): StoredEvent {
      return this.inner.store(event, topic);
    }
    async replay(afterId: string, send: ReplaySend, options?: ReplayOptions): Promise<ReplayResult> {
      await new Promise((resolve) => setImmediate(resolve));
      return this.inner.replay(
        afterId,
        async (event, bytes) => {
          send(event, bytes);
          await new Promise((resolve) => setImmediate(resolve));
        },
        options,
      );
    }
  }

  it.each([
    ['in-memory replayer', (size: number): SyncReplayer => new MemoryReplayer(size)],
    ['replayer that yields while replaying', (size: number): SyncReplayer => new LaggingReplayer(new MemoryReplayer(size))],
  ])('handoff under load (%s): clients that keep reconnecting get every event exactly once, in order', async (_name, makeReplayer) => {
    const total = 1500;
    const clients = 12;
    const replayer = makeReplayer(total + 10);
    const topicSets = [['a'], ['a', 'b'], ['b']];
    const { handler, server } = await handlerServer({ replayer, heartbeatMs: 0, resetEvent: true }, (url) => ({
      topics: (url.searchParams.get('topics') ?? '').split(',').filter(Boolean),
    }));
    const route = (n: number): string | undefined => (n % 3 === 0 ? undefined : n % 3 === 1 ? 'a' : 'b');

    // A deterministic sequence of "disconnect after k events".
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

    interface Client {
      topics: string[];
      received: string[];
      reconnects: number;
    }
    const state: Client[] = Array.from({ length: clients }, (_, i) => ({ topics: topicSets[i % topicSets.length]!, received: [], reconnects: 0 }));
    const expected = (c: Client): string[] => {
      const out: string[] = [];
      for (let n = 1; n <= total; n++) {
        const topic = route(n);
        if (topic === undefined || c.topics.includes(topic)) out.push(String(n));
      }
      return out;
    };

    const open = (c: Client, lastId: string | undefined, viaQuery: boolean): Promise<SseRecorder> => {
      let path = `/?topics=${c.topics.join(',')}`;
      if (lastId !== undefined && viaQuery) path += `&lastEventId=${encodeURIComponent(lastId)}`;
      return connect(server.url + path, lastId !== undefined && !viaQuery ? { 'Last-Event-ID': lastId } : {});
    };

    async function run(c: Client, first: SseRecorder): Promise<void> {
      const want = expected(c);
      let rec = first;
      let lastId: string | undefined;
      let budget = 1 + Math.floor(random() * 60);
      while (c.received.length < want.length) {
        const event = await rec.nextEvent(5000);
        if (event.event !== undefined) throw new Error(`unexpected ${event.event} event: ${event.data}`);
        c.received.push(event.data);
        lastId = event.id;
        if (--budget === 0 && c.received.length < want.length) {
          rec.destroy();
          c.reconnects++;
          if (n < total) reconnectsWhileBroadcasting++;
          rec = await open(c, lastId, c.reconnects % 2 === 0);
          budget = 1 + Math.floor(random() * 60);
        }
      }
      rec.destroy();
    }

    let n = 0;
    let reconnectsWhileBroadcasting = 0;
    // Everyone is registered before the first broadcast, so each client has a full history.
    const firsts = await Promise.all(state.map((c) => open(c, undefined, false)));
    await waitFor(() => handler.connectionCount() === clients, 2000, 'all clients registered');

    const broadcasting = new Promise<void>((resolve) => {
      const step = (): void => {
        // One to three events per turn, so some share a tick (and a cork).
        const burst = 1 + (n % 3);
        for (let i = 0; i < burst && n < total; i++) {
          n++;
          const topic = route(n);
          if (topic === undefined) handler.hub.broadcast({ data: String(n) });
          else handler.hub.broadcastTo(topic, { data: String(n) });
        }
        if (n < total) setImmediate(step);
        else resolve();
      };
      setImmediate(step);
    });

    await Promise.all([broadcasting, ...state.map((c, i) => run(c, firsts[i]!))]);
    for (const c of state) {
      expect(c.received).toEqual(expected(c));
    }
    const reconnects = state.reduce((sum, c) => sum + c.reconnects, 0);
    expect(reconnects).toBeGreaterThan(clients * 3);
    // The handoff was exercised while events kept coming, not only after the last one.
    expect(reconnectsWhileBroadcasting).toBeGreaterThan(clients);
  }, 30_000);
});

describe('handler with a hub that stores itself', () => {
  it('uses the replayer only to replay', async () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'own' });
    const hub = new Hub({ replayer });
    const handler: SseHandler = createSseHandler({ hub, replayer, heartbeatMs: 0 });
    expect(handler.hub).toBe(hub);
    expect(handler.replayer).toBe(replayer);
  });
});

describe('with an EventSource client', () => {
  it('reconnects with Last-Event-ID and gets what it missed, once', async () => {
    const { handler, opened, server } = await handlerServer({ replayer: new MemoryReplayer(100), heartbeatMs: 0, retryMs: 10, resetEvent: true });
    const source = new EventSource(server.url);
    track(() => source.close());
    const received = new Inbox<string>();
    source.onmessage = (e: MessageEvent) => received.push(e.data as string);
    source.addEventListener('ssekit-reset', () => received.push('RESET'));
    const first = await opened.next();
    await handler.hub.broadcast({ data: '1' });
    await handler.hub.broadcast({ data: '2' });
    expect(await received.next(1000)).toBe('1');
    expect(await received.next(1000)).toBe('2');
    first.close();
    await handler.hub.broadcast({ data: '3' }); // nobody is connected
    const second = await opened.next(2000);
    const replayer = handler.replayer as MemoryReplayer;
    expect(second.lastEventId).toBe(`${replayer.prefix}-2`);
    await handler.hub.broadcast({ data: '4' });
    expect(await received.next(1000)).toBe('3');
    expect(await received.next(1000)).toBe('4');
    expect(received.pending).toBe(0);
    expect(second.replayGap).toBe(false);
  });
});
