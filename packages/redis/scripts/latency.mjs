#!/usr/bin/env node
/**
 * Cross-instance delivery latency: broadcast on instance B, receipt by an event-stream client
 * of instance A (both RedisBroadcasters on one Redis), against the in-memory Hub in the same
 * run. Starts its own redis-server on a free loopback port (persistence off).
 *
 * Usage (after `pnpm -r build`):
 *   node packages/redis/scripts/latency.mjs [--rate 1000] [--seconds 5] [--slice-ms 1]
 *
 * Events follow the harness's fixed schedule (event i is due at t0 + i/rate); every
 * `--slice-ms` milliseconds (at least) the events that are due are sent: with the default 1 ms
 * that is about one event per tick at 1000/s. Larger slices send bursts, and then an event's
 * latency also counts the time spent broadcasting the ones before it in its burst.
 *
 * Latency is measured from just before `broadcast()` to the moment the client has parsed the
 * event (one process, one clock), so it includes XADD, the blocking XREAD, encoding-free
 * fan-out and the HTTP hop to the client. Broadcasts are not awaited one by one: they are
 * pipelined, as an application sending at this rate would.
 */
import { get } from 'node:http';
import { buildApp } from '@ssekit/harness/apps';
import { options, usage } from '@ssekit/harness/args';
import { now } from '@ssekit/harness/clock';
import { exactPercentiles } from '@ssekit/harness/histogram';
import { RedisServer } from '@ssekit/harness/redis-server';
import { schedule } from '@ssekit/harness/schedule';
import { SpecParser } from '@ssekit/harness/spec-parser';
import * as core from '@ssekit/core';
import { RedisBroadcaster } from '@ssekit/redis';

const SPEC = {
  rate: { default: 1000, help: 'events per second' },
  seconds: { default: 5, help: 'measured seconds (after one second of warm-up)' },
  'slice-ms': { default: 1, help: 'least time between two sending ticks' },
  help: { default: false },
};
const opts = options(SPEC);
if (opts.help) {
  console.log(`Usage: node packages/redis/scripts/latency.mjs [flags]\n${usage(SPEC)}`);
  process.exit(0);
}
const RATE = opts.rate;
const SECONDS = opts.seconds;
const SLICE_MS = opts['slice-ms'];

/** An HTTP server streaming from `hub` (the harness's core app); resolves with its port. */
async function serve(hub) {
  const app = await buildApp('node', { ssekit: core }, { path: '/', sse: { hub, heartbeatMs: 0 } });
  return { port: await app.listen(), close: () => app.close() };
}

/** Connects a client that records latency for every event carrying a send time. */
function client(port, samples) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      const parser = new SpecParser({ onMessage: (m) => samples.push(now() - Number(m.data)) });
      res.on('data', (chunk) => parser.push(chunk));
      resolve(req);
    });
    req.on('error', reject);
  });
}

/** Broadcasts RATE events per second for `seconds` on the fixed schedule; resolves with the count. */
async function drive(broadcast, seconds) {
  const total = Math.round(RATE * seconds);
  const pending = [];
  const { done } = schedule({
    rate: RATE,
    total,
    sliceMs: SLICE_MS,
    send: (_i, _scheduled, sent) => void pending.push(Promise.resolve(broadcast({ data: String(sent) }))),
  });
  await done;
  await Promise.all(pending);
  return total;
}

async function waitFor(samples, count) {
  const deadline = now() + 10_000;
  while (samples.length < count && now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

function summary(name, samples, expected) {
  const [p50, p90, p99, max] = exactPercentiles(samples, [50, 90, 99, 100]);
  return {
    name,
    received: `${samples.length}/${expected}`,
    p50_ms: p50.toFixed(3),
    p90_ms: p90.toFixed(3),
    p99_ms: p99.toFixed(3),
    max_ms: max.toFixed(3),
  };
}

const redis = await RedisServer.start();
try {
  const redisOptions = { redis: { host: '127.0.0.1', port: redis.port }, namespace: 'latency', maxLen: 100_000, onError: () => {} };
  const a = new RedisBroadcaster(redisOptions);
  const b = new RedisBroadcaster(redisOptions);
  await Promise.all([a.ready(), b.ready()]);
  const memory = new core.Hub();
  const [serverA, serverMemory] = await Promise.all([serve(a), serve(memory)]);

  const results = [];
  for (const [name, port, broadcast] of [
    ['in-memory Hub (same process)', serverMemory.port, (e) => memory.broadcast(e)],
    ['Redis: broadcast on B, client on A', serverA.port, (e) => b.broadcast(e)],
  ]) {
    const samples = [];
    const req = await client(port, samples);
    // One second of warm-up, not counted.
    const warmup = await drive(broadcast, 1);
    await waitFor(samples, warmup);
    samples.length = 0;
    const expected = await drive(broadcast, SECONDS);
    await waitFor(samples, expected);
    results.push(summary(name, samples, expected));
    req.destroy();
  }

  console.log(`${RATE} events/s for ${SECONDS} s (sent at least ${SLICE_MS} ms apart), one client, Node ${process.version}`);
  console.table(results);

  await Promise.all([serverA.close(), serverMemory.close()]);
  await Promise.all([a.close(), b.close()]);
} finally {
  await redis.stop();
  await redis.dispose();
}
