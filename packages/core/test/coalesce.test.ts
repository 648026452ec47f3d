import { Hub, SseConnection, type SseSink } from '@ssekit/core';
import { createCoalescer, kCork, kUncork, NO_STAMP, type Coalescer, type Corkable } from '../src/coalesce';

/** A sink that records the order of writes, corks and uncorks. */
function recordingSink(): SseSink & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    http2: false,
    destroyed: false,
    open: () => log.push('open'),
    write: (chunk) => {
      log.push(`write ${Buffer.from(chunk).toString('utf8').trim()}`);
      return true;
    },
    bufferedBytes: () => 0,
    flush: () => {},
    cork: () => log.push('cork'),
    uncork: () => log.push('uncork'),
    end: () => log.push('end'),
    destroy: () => log.push('destroy'),
    finished: () => Promise.resolve(),
    bind: () => {},
  };
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('broadcast coalescing', () => {
  it('writes the only event of a tick at once, without corking', async () => {
    const sink = recordingSink();
    const hub = new Hub();
    hub.register(new SseConnection(sink, { heartbeatMs: 0 }));
    hub.broadcast({ data: 'a' });
    await nextTick();
    hub.broadcast({ data: 'b' });
    await nextTick();
    expect(sink.log).toEqual(['open', 'write data: a', 'write data: b']);
  });

  it('corks from the second event of a tick and uncorks once when the tick ends', async () => {
    const sink = recordingSink();
    const hub = new Hub();
    hub.register(new SseConnection(sink, { heartbeatMs: 0 }));
    hub.broadcast({ data: 'a' });
    hub.broadcast({ data: 'b' });
    hub.broadcast({ data: 'c' });
    expect(sink.log).toEqual(['open', 'write data: a', 'cork', 'write data: b', 'write data: c']);
    await nextTick();
    expect(sink.log.slice(5)).toEqual(['uncork']);
    // The next tick starts afresh.
    hub.broadcast({ data: 'd' });
    await nextTick();
    expect(sink.log.slice(6)).toEqual(['write data: d']);
  });
});

describe('createCoalescer', () => {
  /** A member that records its corks, and keeps its stamp the way a connection does. */
  function member(log: string[], name: string) {
    let stamp = NO_STAMP;
    const m: Corkable = {
      [kCork]: () => void log.push(`cork ${name}`),
      [kUncork]: () => void log.push(`uncork ${name}`),
    };
    return { write: (c: Coalescer) => void (stamp = c.beforeWrite(m, stamp)) };
  }

  it('corks a member on its second write of a tick, once, and uncorks every corked member when the tick ends', async () => {
    const log: string[] = [];
    const coalescer = createCoalescer();
    const a = member(log, 'a');
    const b = member(log, 'b');
    a.write(coalescer);
    b.write(coalescer);
    expect(log).toEqual([]);
    a.write(coalescer);
    a.write(coalescer);
    b.write(coalescer);
    expect(log).toEqual(['cork a', 'cork b']);
    await nextTick();
    expect(log).toEqual(['cork a', 'cork b', 'uncork a', 'uncork b']);
    a.write(coalescer);
    await nextTick();
    expect(log).toHaveLength(4);
  });

});
