#!/usr/bin/env node
/**
 * Cross-instance delivery latency: broadcast on instance B, receipt by an event-stream client
 * of instance A (both RedisBroadcasters on one Redis), against the in-memory Hub in the same
 * run. Starts its own redis-server on a free loopback port (persistence off).
 *
 * Usage (after `pnpm -r build`):
 *   node packages/redis/scripts/latency.mjs [--rate 1000] [--seconds 5] [--slice-ms 1]
 *
 * Events are sent on a timer every `--slice-ms` milliseconds, as many as are due: with the
 * default 1 ms that is about one event per tick at 1000/s. Larger slices send bursts, and then
 * an event's latency also counts the time spent broadcasting the ones before it in its burst.
 *
 * Latency is measured from just before `broadcast()` to the moment the client has parsed the
 * event (one process, one clock), so it includes XADD, the blocking XREAD, encoding-free
 * fan-out and the HTTP hop to the client.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, get } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSseHandler, Hub } from '@ssekit/core';
import { RedisBroadcaster } from '@ssekit/redis';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const RATE = arg('rate', 1000);
const SECONDS = arg('seconds', 5);
const SLICE_MS = arg('slice-ms', 1);
const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ssekit-latency-'));
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  child.stdout.resume();
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** An HTTP server streaming from `hub`; resolves with its port. */
async function serve(hub) {
  const handler = createSseHandler({ hub, heartbeatMs: 0 });
  const server = createHttpServer((req, res) => void handler.open(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, close: async () => { await handler.close(); server.close(); } };
}

/** Connects a client that records latency for every event carrying a send time. */
function client(port, samples) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) samples.push(performance.now() - Number(data.slice(6)));
        }
      });
      resolve(req);
    });
    req.on('error', reject);
  });
}

/** Broadcasts RATE events per second for `seconds`, in SLICE_MS slices. */
async function drive(broadcast, seconds) {
  const total = Math.round(RATE * seconds);
  const perSlice = Math.max(1, Math.round((RATE * SLICE_MS) / 1000));
  const start = performance.now();
  let sent = 0;
  const pending = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + perSlice);
    while (sent < due) {
      pending.push(Promise.resolve(broadcast({ data: String(performance.now()) })));
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, SLICE_MS));
  }
  await Promise.all(pending);
  return total;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function waitFor(samples, count) {
  const deadline = performance.now() + 10_000;
  while (samples.length < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

function summary(name, samples, expected) {
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    name,
    received: `${samples.length}/${expected}`,
    p50_ms: percentile(sorted, 50).toFixed(3),
    p90_ms: percentile(sorted, 90).toFixed(3),
    p99_ms: percentile(sorted, 99).toFixed(3),
    max_ms: sorted[sorted.length - 1].toFixed(3),
  };
}

const redis = await startRedis();
const options = { redis: { host: '127.0.0.1', port: redis.port }, namespace: 'latency', maxLen: 100_000, onError: () => {} };
const a = new RedisBroadcaster(options);
const b = new RedisBroadcaster(options);
await Promise.all([a.ready(), b.ready()]);
const memory = new Hub();
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

console.log(`${RATE} events/s for ${SECONDS} s (sent every ${SLICE_MS} ms), one client, Node ${process.version}`);
console.table(results);

await Promise.all([serverA.close(), serverMemory.close()]);
await Promise.all([a.close(), b.close()]);
await redis.stop();
