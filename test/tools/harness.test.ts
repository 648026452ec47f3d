/**
 * The harness shared by bench/, stress/, the latency script and the test kit: the pieces whose
 * mistakes would silently skew a benchmark or hide a failure.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options } from '@ssekit/harness/args';
import { createHistogram, exactPercentiles, percentile, record } from '@ssekit/harness/histogram';
import { start } from '@ssekit/harness/procs';
import { RedisServer, command } from '@ssekit/harness/redis-server';
import { schedule } from '@ssekit/harness/schedule';
import { ROOT, builtEntry, unbuilt } from '@ssekit/harness/workspace';
import { SpecParser, interpretStream, type SpecMessage } from '@ssekit/harness/spec-parser';
import { track } from '@ssekit/testkit';

describe('spec parser', () => {
  const wire = '\uFEFFid: 1\r\nevent: a\r\ndata: x\r\ndata: y\r\n\r\n: comment\nid: 2\0\nretry: 1500\nretry: soon\ndata\n\nid: 3\n\ndata: partial';

  test('reads the WHATWG algorithm literally', () => {
    expect(interpretStream(wire)).toEqual({
      messages: [
        { type: 'a', data: 'x\ny', lastEventId: '1' },
        // An id with NUL is ignored; a field name alone is an empty value.
        { type: 'message', data: '', lastEventId: '1' },
      ],
      // The id of an event with no data still becomes the last event ID.
      lastEventId: '3',
      retry: 1500,
    });
  });

  test('gives the same messages whatever the pieces, CRLF and UTF-8 split included', () => {
    const bytes = Buffer.from(`${wire}\ndata: é😀\r\n\r\n`, 'utf8');
    const whole = interpretStream(bytes).messages;
    for (let cut = 1; cut < bytes.length; cut++) {
      const messages: SpecMessage[] = [];
      const parser = new SpecParser({ onMessage: (m) => messages.push(m) });
      parser.push(bytes.subarray(0, cut));
      parser.push(bytes.subarray(cut));
      parser.end();
      expect(messages).toEqual(whole);
    }
    expect(whole.at(-1)).toEqual({ type: 'message', data: 'partial\né😀', lastEventId: '3' });
  });
});

describe('schedule', () => {
  test('a counted run sends every event once, in order, awaiting each asynchronous send', async () => {
    const sent: number[] = [];
    let inFlight = 0;
    const { done } = schedule({
      rate: 2000,
      total: 100,
      send: async (i) => {
        expect(inFlight).toBe(0);
        inFlight++;
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        sent.push(i);
      },
    });
    const result = await done;
    expect(sent).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(result).toMatchObject({ scheduled: 100, sent: 100 });
  });

  test('a timed run that falls behind sends its backlog late, and the lag shows it', async () => {
    // Each send takes 4 ms at a rate that leaves 1 ms per event: no quietly slower schedule.
    const busy = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const { done } = schedule({ rate: 1000, durationMs: 200, send: () => busy(4) });
    const result = await done;
    expect(result.scheduled).toBe(200);
    expect(result.sent).toBeGreaterThan(0);
    expect(result.sent).toBeLessThanOrEqual(result.scheduled);
    // Latency is counted from each event's scheduled time, so the backlog is in the figures.
    expect(result.lag.max).toBeGreaterThan(50);
    expect(result.lag.n).toBe(result.sent);
  });

  test('warm-up events are sent but not measured; stop() ends a run early', async () => {
    const measured: boolean[] = [];
    const run = schedule({ rate: 500, total: 1e9, warmupMs: 20, send: (_i, _s, _t, m) => void measured.push(m) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    run.stop();
    const result = await run.done;
    expect(measured.slice(0, 10).every((m) => !m)).toBe(true);
    expect(measured.at(-1)).toBe(true);
    expect(result.sent).toBe(measured.filter(Boolean).length);
  });

  test('a send that throws ends the run with its error', async () => {
    const { done } = schedule({ rate: 1000, total: 10, send: () => {
      throw new Error('hub down');
    } });
    await expect(done).rejects.toThrow('hub down');
  });
});

test('histogram percentiles follow the nearest rank, and exact ones too', () => {
  const h = createHistogram();
  const samples = Array.from({ length: 100 }, (_, i) => i + 0.05);
  for (const ms of samples) record(h, ms);
  // The upper edge of the 0.1 ms bucket that holds the 50th sample (49.05).
  expect(percentile(h, 50)).toBeCloseTo(49.1, 5);
  expect(percentile(h, 100)).toBeCloseTo(99.05, 5);
  expect(exactPercentiles(samples, [50, 99, 100])).toEqual([49.05, 98.05, 99.05]);
  expect(exactPercentiles([], [50])).toEqual([NaN]);
});

test('workspace builds are found through each package\'s exports map, subpaths included', () => {
  expect(builtEntry('@ssekit/core')).toBe(join(ROOT, 'packages/core/dist/index.mjs'));
  expect(builtEntry('core/package.json')).toBe(join(ROOT, 'packages/core/package.json'));
  expect(builtEntry('@ssekit/core/not-an-entry')).toBeUndefined();
  expect(unbuilt(['core', '@ssekit/redis', 'not-a-package'])).toEqual(['@ssekit/not-a-package']);
});

test('options: typed from their defaults, unknown ones refused unless told', () => {
  const spec = { rate: { default: 1000 }, name: { default: 'x' }, quick: { default: false } };
  expect(options(spec, ['--rate', '5', '--quick'])).toEqual({ rate: 5, name: 'x', quick: true });
  expect(() => options(spec, ['--rate', 'fast'])).toThrow(/--rate must be a number/);
  expect(() => options(spec, ['--nope', '1'])).toThrow(/Unknown option '--nope'[\s\S]*--rate 1000/);
  expect(options(spec, ['--nope', '1', '--name=y'], { strict: false })).toEqual({ rate: 1000, name: 'y', quick: false });
});

describe('child processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ssekit-procs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function script(name: string, code: string): string {
    const file = join(dir, name);
    writeFileSync(file, code);
    return file;
  }

  test('a reply that comes before it is asked for waits in the inbox; exit message, then exit', async () => {
    const child = start(script('early.cjs', "process.send({ type: 'hello', n: 1 }); process.on('message', (m) => m.cmd === 'exit' && process.exit(0));"));
    track(() => child.kill());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(child.next('hello', 5000)).resolves.toEqual({ type: 'hello', n: 1 });
    await expect(child.stop()).resolves.toEqual({ code: 0, signal: null, forced: false });
  });

  test('a child that ignores the request to stop is killed after the grace period', async () => {
    const child = start(script('stubborn.cjs', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('up');"), [], { ipc: false, output: 'capture' });
    track(() => child.kill());
    await child.waitForOutput(/up/, 10_000);
    await expect(child.stop({ graceMs: 200 })).resolves.toMatchObject({ signal: 'SIGKILL', forced: true });
    expect(child.alive).toBe(false);
  });

  test('waiting for output or a message fails at once when the child exits', async () => {
    const child = start(script('quits.cjs', "console.error('bye'); process.exit(3);"), [], { output: 'capture' });
    await expect(child.waitForOutput(/never/, 10_000)).rejects.toThrow(/exited \(3\) before printing[\s\S]*bye/);
    await expect(child.next('ready', 10_000)).rejects.toThrow(/has exited \(3\)/);
  });
});

test('redis-server: ready on PING, killed like a crash, restarted on the same port, disposed', async () => {
  const redis = await RedisServer.start();
  track(() => redis.dispose());
  expect(redis.port).not.toBe(6379);
  expect(await command(redis.port, ['PING'])).toBe('+PONG\r\n');
  await command(redis.port, ['SET', 'k', 'v']);
  await redis.kill();
  expect(redis.running).toBe(false);
  await expect(command(redis.port, ['PING'], 200)).rejects.toThrow();
  await redis.restart();
  // Persistence is off: it comes back empty.
  expect(await command(redis.port, ['GET', 'k'])).toBe('$-1\r\n');
  await redis.stop();
  await redis.dispose();
  expect(existsSync(redis.dir)).toBe(false);
});
