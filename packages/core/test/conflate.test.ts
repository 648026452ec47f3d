import { Hub, MemoryReplayer, SseConnection, SseOptionsError, type Connection, type SseSink } from '@ssekit/core';
import { rawRequest } from '@ssekit/testkit';
import { dechunk, splitResponse, streamRequest } from '@ssekit/harness/raw';
import { closeAll, connect, handlerServer, waitFor } from './helpers';

afterEach(closeAll);

/** The body of a chunked HTTP/1.1 response as text. */
const bodyOf = (raw: Buffer): string => dechunk(splitResponse(raw).body).toString('utf8');

/** The events of an SSE body: id and data (first 40 characters) of each. */
function eventsOf(body: string): { id: string; data: string }[] {
  return body
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => ({ id: /^id: (.*)$/m.exec(block)?.[1] ?? '', data: /^data: (.*)$/m.exec(block)![1]! }));
}

/** A transport whose client is behind until `drain()` is called: every write reports backpressure. */
function laggingSink(): SseSink & { written: string[]; drain(): void } {
  let onDrain = (): void => {};
  let behind = false;
  const written: string[] = [];
  return {
    written,
    http2: false,
    destroyed: false,
    open: () => {},
    write: (chunk) => {
      written.push(Buffer.from(chunk).toString('utf8'));
      behind = true;
      return false;
    },
    bufferedBytes: () => (behind ? 20_000 : 0),
    flush: () => {},
    cork: () => {},
    uncork: () => {},
    end: () => {},
    destroy: () => {},
    finished: () => Promise.resolve(),
    bind: (drain) => {
      onDrain = drain;
    },
    drain() {
      behind = false;
      onDrain();
    },
  };
}

describe('conflation', () => {
  it('a newer conflatable event of a key replaces the unsent older one and takes the newest place', async () => {
    const sink = laggingSink();
    const hub = new Hub({ replayer: new MemoryReplayer(100, 0, { prefix: 'c' }) });
    const conn = new SseConnection(sink, { heartbeatMs: 0 });
    hub.subscribe(conn, 'prices');
    hub.broadcastTo('prices', { data: 'first' }); // written: the client is behind from here on
    await new Promise((resolve) => process.nextTick(resolve));
    hub.broadcastTo('prices', { data: 'AAPL 1' }, { conflate: 'AAPL' });
    hub.broadcastTo('prices', { data: 'MSFT 1' }, { conflate: 'MSFT' });
    hub.broadcastTo('prices', { data: 'news' });
    hub.broadcastTo('prices', { data: 'AAPL 2' }, { conflate: 'AAPL' });
    expect(sink.written).toHaveLength(1);
    sink.drain();
    const events = eventsOf(sink.written.join(''));
    expect(events.map((e) => e.data)).toEqual(['first', 'MSFT 1', 'news', 'AAPL 2']);
    // Ids only grow on the wire, so the client's Last-Event-ID is the newest it holds.
    const seqs = events.map((e) => Number(/(\d+)$/.exec(e.id)![1]));
    expect(seqs.map((n) => n - seqs[0]!)).toEqual([0, 2, 3, 4]);
    expect(sink.written).toHaveLength(2); // what was held left in one write
    conn.close();
  });

  it('a stalled reader of conflatable events stays connected with bounded memory, then gets the newest values; its id resumes exactly', async () => {
    const maxBufferedBytes = 64 * 1024;
    const replayer = new MemoryReplayer(50_000, 0, { prefix: 'p' });
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, maxBufferedBytes, replayer }, (url) => ({ topics: url.searchParams.getAll('topic') }));
    const raw = rawRequest(server.port, streamRequest('/?topic=prices'), { pause: true });
    const conn: Connection = await opened.next();
    await raw.connected;
    const keys = ['AAPL', 'MSFT', 'GOOG', 'AMZN'];
    const pad = 'x'.repeat(4000);
    let sent = 0;
    let behindFor = 0;
    let lastId = '';
    // Publish until the kernel buffers are full and the connection has been behind for a while.
    while (behindFor < 2000 && sent < 100_000) {
      for (let i = 0; i < 50; i++, sent++) {
        const key = keys[sent % keys.length]!;
        lastId = (handler.hub as Hub).broadcastTo('prices', { data: `${key} ${sent} ${pad}` }, { conflate: key })!.id!;
        if (conn.bufferedBytes > 0) behindFor++;
      }
      expect(conn.closed).toBe(false);
      expect(conn.bufferedBytes).toBeLessThan(maxBufferedBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(behindFor).toBeGreaterThanOrEqual(2000);
    expect(conn.closed).toBe(false);

    raw.socket.resume();
    await waitFor(() => bodyOf(raw.received()).includes(`id: ${lastId}\n`), 20_000, 'the newest event');
    const events = eventsOf(bodyOf(raw.received()));
    expect(events.length).toBeLessThan(sent); // some were replaced
    const seqs = events.map((e) => Number(e.data.split(' ')[1]));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    // The newest value of every key arrived.
    for (let k = 0; k < keys.length; k++) {
      const newest = sent - 1 - ((sent - 1 - k) % keys.length);
      expect(events.some((e) => e.data.startsWith(`${keys[k]} ${newest} `))).toBe(true);
    }

    // Resuming with the id it holds: nothing to replay, no gap, and the next event follows.
    const again = await connect(`${server.url}/?topic=prices`, { 'last-event-id': events.at(-1)!.id });
    const resumed = await opened.next();
    expect(resumed.replayGap).toBe(false);
    handler.hub.broadcastTo('prices', { data: 'after' });
    expect((await again.nextEvent(5000)).data).toBe('after');
  });

  it('without the marker, the same stalled reader is closed as slow', async () => {
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, maxBufferedBytes: 64 * 1024 }, (url) => ({ topics: url.searchParams.getAll('topic') }));
    const raw = rawRequest(server.port, streamRequest('/?topic=prices'), { pause: true });
    const conn = await opened.next();
    await raw.connected;
    const pad = 'x'.repeat(4000);
    for (let sent = 0; sent < 100_000 && !conn.closed; sent++) {
      handler.hub.broadcastTo('prices', { data: pad });
      if (sent % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(conn.closeReason).toBe('slow');
  });

  it('rejects a conflate option that is not a boolean or a key, and unknown broadcast options', () => {
    const hub = new Hub();
    expect(() => hub.broadcast({ data: 'x' }, { conflate: 3 as never })).toThrow(SseOptionsError);
    expect(() => hub.broadcastTo('t', { data: 'x' }, { conflat: true } as never)).toThrow(SseOptionsError);
  });
});
