/**
 * MemoryReplayer under a reconnect storm: replay reads a per-topic index (cost follows what the
 * client missed, gaps follow its own topics), a replay over `maxReplayEvents` is a gap, reads
 * are bounded and queued, and identical waiting replays share one read.
 */
import { MemoryReplayer, SseOptionsError, type StoredEvent } from '@ssekit/core';
import { ReplayGate } from '@ssekit/core/integration';

async function replayData(replayer: MemoryReplayer, afterId: string, topics?: string[]) {
  const data: unknown[] = [];
  const result = await replayer.replay(afterId, (event: StoredEvent) => void data.push(event.data), topics === undefined ? {} : { topics });
  return { ...result, data };
}

describe('MemoryReplayer per topic', () => {
  it('replays one topic out of 100,000 events on 10,000 topics, with untargeted ones, in id order', async () => {
    const replayer = new MemoryReplayer(100_000, 0, { prefix: 'p' });
    const start = replayer.store({ data: 'start' });
    for (let i = 0; i < 99_990; i++) replayer.store({ data: i }, `user-${i % 10_000}`);
    replayer.store({ data: 'all' });
    const result = await replayData(replayer, start.id, ['user-42', 'user-43']);
    expect(result.count).toBe(21);
    expect(result.data.at(-1)).toBe('all');
    expect(result.data.slice(0, 4)).toEqual(['42', '43', '10042', '10043']);
  });

  it('eviction of other topics is no gap; eviction of its own topic (or of a topic it has nothing left of) is', async () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 'g' });
    const mine = replayer.store({ data: 'mine-1' }, 'mine');
    for (let i = 0; i < 20; i++) replayer.store({ data: i }, 'other');
    replayer.store({ data: 'mine-2' }, 'mine');
    // mine-1 was evicted, but it is the client's own last event: nothing of `mine` after it is lost.
    expect(await replayData(replayer, mine.id, ['mine'])).toEqual({ count: 1, gap: false, data: ['mine-2'] });
    // `other` lost events after the id; and a topic with nothing retained cannot tell.
    expect((await replayData(replayer, mine.id, ['mine', 'other'])).gap).toBe(true);
    expect((await replayData(replayer, mine.id, ['never-seen'])).gap).toBe(true);
    // Untargeted broadcasts count as the client's own.
    const replayer2 = new MemoryReplayer(3, 0, { prefix: 'u' });
    const first = replayer2.store({ data: 'a' });
    replayer2.store({ data: 'b' });
    for (let i = 0; i < 3; i++) replayer2.store({ data: i }, 'x');
    expect((await replayData(replayer2, first.id, ['x'])).gap).toBe(true);
  });

  it('expiry is checked per topic at replay time', async () => {
    let now = 1000;
    const replayer = new MemoryReplayer(100, 500, { prefix: 'e', now: () => now });
    const start = replayer.store({ data: 'start' }, 'a');
    replayer.store({ data: 'old' }, 'b');
    now = 1400;
    replayer.store({ data: 'new' }, 'a');
    now = 1600;
    expect(await replayData(replayer, start.id, ['a'])).toEqual({ count: 1, gap: false, data: ['new'] });
    expect((await replayData(replayer, start.id, ['a', 'b'])).gap).toBe(true);
  });

  it('a replay of more than maxReplayEvents reports a gap and sends nothing', async () => {
    const replayer = new MemoryReplayer(100, 0, { prefix: 'm', maxReplayEvents: 5 });
    const start = replayer.store({ data: 'start' });
    for (let i = 0; i < 5; i++) replayer.store({ data: i }, 't');
    expect((await replayData(replayer, start.id, ['t'])).count).toBe(5);
    replayer.store({ data: 'one more' });
    expect(await replayData(replayer, start.id, ['t'])).toEqual({ count: 0, gap: true, data: [] });
    expect(await replayData(replayer, start.id)).toEqual({ count: 0, gap: true, data: [] });
  });

  it('identical concurrent replays share one read; others wait for a slot and all succeed', async () => {
    const replayer = new MemoryReplayer(1000, 0, { prefix: 'c', maxConcurrentReplays: 1 });
    const start = replayer.store({ data: 'start' });
    for (let i = 0; i < 10; i++) replayer.store({ data: i }, i % 2 ? 'odd' : 'even');
    const results = await Promise.all([
      ...Array.from({ length: 100 }, () => replayData(replayer, start.id, ['odd'])),
      replayData(replayer, start.id, ['even']),
      replayData(replayer, start.id, ['odd', 'even']),
    ]);
    expect(results.slice(0, 100).every((r) => r.data.join() === '1,3,5,7,9')).toBe(true);
    expect(results[100]!.count).toBe(5);
    expect(results[101]!.count).toBe(10);
    expect(replayer.replayStats()).toMatchObject({ reads: 3, requests: 102, active: 0, queued: 0 });
  });

  it('rejects bad storm options and unknown option keys', () => {
    expect(() => new MemoryReplayer(10, 0, { maxReplayEvents: 0 })).toThrow(SseOptionsError);
    expect(() => new MemoryReplayer(10, 0, { maxConcurrentReplays: 1.5 })).toThrow(SseOptionsError);
    expect(() => new MemoryReplayer(10, 0, { maxReplayEvent: 5 } as never)).toThrow(/maxReplayEvent/);
  });
});

describe('ReplayGate', () => {
  it('runs at most maxConcurrent reads, in arrival order, and a failed read fails only its requests', async () => {
    const gate = new ReplayGate(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const read = (i: number) => () => {
      started.push(i);
      return new Promise<number>((resolve, reject) => release.push(() => (i === 3 ? reject(new Error('boom')) : resolve(i))));
    };
    const results = [0, 1, 2, 3, 4].map((i) => gate.run(String(i), read(i)).catch((e: Error) => e.message));
    const shared = gate.run('4', read(99));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    expect(gate.stats()).toMatchObject({ active: 2, queued: 3 });
    while (release.length > 0) {
      release.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 'boom', 4]);
    expect(await shared).toBe(4);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(gate.stats()).toMatchObject({ reads: 5, requests: 6 });
  });
});
