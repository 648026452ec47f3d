/**
 * Reconnect spread: when the server restarts, when do its clients come back?
 *
 * `--clients` streams are open on a server (a child process: `createSseHandler` on `node:http`,
 * `retryMs` sent at connect). The server shuts down the way a deploy does (`handler.close`:
 * every stream ends with its final `retry:` hint), exits, and a new server process starts on
 * the same port. The new server stamps every connection it accepts; the offsets from the
 * moment the old one began ending its streams are the figures:
 *
 * - lane `client`: `@ssekit/client` with its defaults (exponential backoff from the server's
 *   `retry:`, half of each delay random);
 * - lane `eventsource`: the `eventsource` package, a spec EventSource (the baseline: every
 *   client waits exactly `retry:`, so all of them come back at the same instant).
 *
 * Printed per lane: the delays the clients chose once their stream ended (what the algorithm
 * spreads, whatever the machine), when this process saw the streams end (the harness's own
 * floor: a thousand clients in one process do not all notice at once), then min / p50 / p99 /
 * max of the arrival offsets, the busiest 10 ms and 100 ms, the attempts that hit the server
 * while it was down, and a histogram. Checks: every client came back, and the delays
 * @ssekit/client chose spread over at least 40% of the `retry:` window (the arrivals at the
 * new server also carry this machine's own scheduling, so they are reported, not checked).
 *
 *   node stress/scenarios/reconnect-spread.mjs [--clients 1000] [--retryMs 1000] [--downMs 0]
 *     [--lanes client,eventsource] [--bucketMs 100] [--warmup 1]
 *
 * `--warmup` rounds of each lane run first, unmeasured, so that the first lane does not pay for
 * loading and compiling what the second then finds warm.
 *
 * Packages must be built first (`npx -y pnpm@12.4.2 -r build`). Everything listens on
 * 127.0.0.1; the server children are killed on every exit path.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { options } from '@ssekit/harness/args';
import { killAll, killAllOnSignals, start } from '@ssekit/harness/procs';
import { importWorkspace } from '@ssekit/harness/workspace';
import { until } from '../lib/harness.mjs';

const SELF = fileURLToPath(import.meta.url);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the server child --------------------------------------------------------------------

/**
 * Serves `/events` on `port` (0: any; -1: wait for a `listen` message naming the port, so that
 * a replacement is loaded and ready before the old server goes), stamps each request, and
 * answers the parent over IPC.
 */
async function serve(port, retryMs) {
  const { createSseHandler, MemoryReplayer } = await importWorkspace('@ssekit/core');
  const handler = createSseHandler({ replayer: new MemoryReplayer(100), retryMs, shutdownRetryMs: retryMs });
  const arrivals = [];
  const server = http.createServer((req, res) => {
    handler.open(req, res).catch(() => res.writeHead(503).end());
  });
  // Stamped when the connection is accepted, before any HTTP work: the server's own
  // processing would otherwise smooth out the very burst being measured. Every stream needs a
  // connection of its own, so one connection is one reconnect.
  server.on('connection', () => arrivals.push(now()));
  server.on('error', (error) => {
    console.error(`reconnect-spread server: ${error.message}`);
    process.exit(1);
  });
  // A deep accept queue: the kernel's default of 511 would drop SYNs of a thousand clients
  // arriving together, and the measured spread would be the kernel's retransmits.
  const listen = (on) =>
    server.listen({ port: on, host: '127.0.0.1', backlog: 4096 }, () => process.send({ type: 'listening', port: server.address().port, at: now() }));
  if (port >= 0) listen(port);
  process.send({ type: 'ready' });
  process.on('message', async (message) => {
    if (message.type === 'listen') listen(message.port);
    else if (message.type === 'count') process.send({ type: 'count', value: handler.connectionCount() });
    else if (message.type === 'broadcast') {
      handler.hub.broadcast({ data: 'before the restart' });
      process.send({ type: 'broadcast' });
    } else if (message.type === 'arrivals') process.send({ type: 'arrivals', value: arrivals });
    else if (message.type === 'shutdown') {
      process.send({ type: 'closing', at: now() });
      await handler.close(server);
      process.exit(0);
    }
  });
}

// ---- the measuring parent ----------------------------------------------------------------

/**
 * Starts a server child (see {@link serve}) on the harness's supervisor; resolves once it is
 * ready, with `listening` (the `listening` message) when it was given a port.
 */
async function startServer(port, retryMs) {
  const child = start(SELF, ['--serve', String(port), String(retryMs)], { label: `server (${port < 0 ? 'standby' : 'first'})` });
  const listening = port >= 0 ? child.next('listening') : undefined;
  listening?.catch(() => {}); // awaited by the caller; an early exit rejects `ready` too
  await child.next('ready');
  return { child, listening, count: async () => (await child.ask({ type: 'count' }, 'count')).value };
}

/**
 * `n` clients of a lane. Once `watch()` is called, each client's first error is the end of its
 * stream (its time is kept) and any later one is an attempt that found no server.
 */
async function openClients(lane, url, n) {
  const counts = { messages: 0, refused: 0 };
  const ended = [];
  /** The delay each client chose after its stream ended (a spec EventSource: the `retry:` hint). */
  const delays = [];
  let watching = false;
  const closers = [];
  const onError = (seen) => (_error, info) => {
    if (!watching) return;
    if (seen.ended) counts.refused++;
    else {
      seen.ended = true;
      ended.push(now());
      delays.push(info?.delayMs);
    }
  };
  if (lane === 'client') {
    const { connect } = await importWorkspace('@ssekit/client');
    for (let i = 0; i < n; i++) {
      const stream = connect(url);
      stream.on('message', () => counts.messages++);
      stream.on('error', onError({}));
      closers.push(() => stream.close());
    }
  } else if (lane === 'eventsource') {
    const { EventSource } = await import('eventsource');
    for (let i = 0; i < n; i++) {
      const source = new EventSource(url);
      source.onmessage = () => counts.messages++;
      source.onerror = onError({});
      closers.push(() => source.close());
    }
  } else {
    throw new Error(`unknown lane "${lane}" (client or eventsource)`);
  }
  return {
    counts,
    ended,
    delays,
    watch: () => (watching = true),
    close: () => closers.forEach((close) => close()),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Most arrivals within any window of `ms`. */
function busiest(sorted, ms) {
  let best = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j] - sorted[i] >= ms) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

function histogram(sorted, bucketMs) {
  const first = Math.floor(sorted[0] / bucketMs);
  const last = Math.floor(sorted.at(-1) / bucketMs);
  const counts = new Array(last - first + 1).fill(0);
  for (const at of sorted) counts[Math.floor(at / bucketMs) - first]++;
  const top = Math.max(...counts);
  return counts.map((count, i) => {
    const from = (first + i) * bucketMs;
    const bar = '#'.repeat(Math.round((count / top) * 50));
    return `    ${String(from).padStart(6)}-${String(from + bucketMs).padEnd(6)} ms ${String(count).padStart(5)} ${bar}`;
  });
}

/** One lane: connect, restart the server, time the reconnects. */
async function runLane(lane, opts) {
  const first = await startServer(0, opts.retryMs);
  const { port } = await first.listening;
  const url = `http://127.0.0.1:${port}/events`;
  // The replacement is loaded now, so that the restart takes what a deploy's switch takes, not
  // what starting Node.js takes on a loaded machine (`--downMs` adds downtime on purpose).
  const second = await startServer(-1, opts.retryMs);
  const clients = await openClients(lane, url, opts.clients);
  try {
    await until(async () => (await first.count()) === opts.clients, 60_000, `${opts.clients} streams`);
    // Every client holds an id, as a real one would: the new server has never seen it.
    await first.child.ask({ type: 'broadcast' }, 'broadcast');
    await until(() => clients.counts.messages === opts.clients, 30_000, 'the event to reach every client');

    clients.watch();
    const closing = await first.child.ask({ type: 'shutdown' }, 'closing');
    const t0 = closing.at;
    await first.child.exited;
    if (opts.downMs > 0) await sleep(opts.downMs);
    const listening = second.child.ask({ type: 'listen', port }, 'listening');
    // The child's own clock, as for the arrivals: IPC on a loaded machine takes its time.
    const upAt = (await listening).at - t0;
    try {
      await until(async () => (await second.count()) >= opts.clients, opts.timeoutMs, 'every client to come back');
      const arrivals = (await second.child.ask({ type: 'arrivals' }, 'arrivals')).value.map((at) => at - t0).sort((a, b) => a - b);
      const ended = clients.ended.map((at) => at - t0).sort((a, b) => a - b);
      const refused = clients.counts.refused;
      const delays = clients.delays.map((d) => d ?? opts.retryMs).sort((a, b) => a - b);
      return { lane, arrivals, ended, delays, upAt, refused };
    } finally {
      second.child.kill();
      await second.child.exited;
    }
  } finally {
    clients.close();
    first.child.kill();
    second.child.kill();
  }
}

async function main() {
  const opts = options(
    {
      clients: { default: 1000 },
      retryMs: { default: 1000 },
      downMs: { default: 0 },
      lanes: { default: 'client,eventsource' },
      bucketMs: { default: 100 },
      timeoutMs: { default: 60_000 },
      warmup: { default: 1 },
    },
    undefined,
    { strict: false },
  );
  const lanes = opts.lanes.split(',');
  killAllOnSignals();

  console.log(`\n=== reconnect spread: ${opts.clients} clients, server restart, retry: ${opts.retryMs} ms`);
  const failures = [];
  const results = {};
  try {
    for (const lane of lanes) {
      // Unmeasured rounds first, so that neither lane pays for loading and compiling the code.
      for (let i = 0; i < opts.warmup; i++) await runLane(lane, opts);
      const result = await runLane(lane, opts);
      results[lane] = result;
      const a = result.arrivals;
      const ms = (v) => `${Math.round(v)} ms`;
      console.log(`\n  lane ${lane}`);
      console.log(`    new server listening after              ${ms(result.upAt)}`);
      // How long this one process took to see a thousand streams end: the floor of any spread.
      console.log(`    clients saw their stream end            ${ms(result.ended[0])} to ${ms(result.ended.at(-1))}`);
      const d = result.delays;
      console.log(`    delay chosen after the end min/p50/max  ${ms(d[0])} / ${ms(percentile(d, 50))} / ${ms(d.at(-1))}`);
      console.log(`    reconnects                              ${a.length}`);
      console.log(`    arrival min / p50 / p99 / max           ${ms(a[0])} / ${ms(percentile(a, 50))} / ${ms(percentile(a, 99))} / ${ms(a.at(-1))}`);
      console.log(`    spread (max - min), p1..p99             ${ms(a.at(-1) - a[0])}, ${ms(percentile(a, 99) - percentile(a, 1))}`);
      console.log(`    busiest 10 ms / 100 ms                  ${busiest(a, 10)} / ${busiest(a, 100)} arrivals`);
      console.log(`    attempts while the server was down      ${result.refused}`);
      console.log(`    histogram (${opts.bucketMs} ms buckets, from the shutdown):`);
      for (const line of histogram(a, opts.bucketMs)) console.log(line);
      const ok = a.length >= opts.clients;
      console.log(`    ${ok ? 'ok  ' : 'FAIL'} every client came back`);
      if (!ok) failures.push(`${lane}: ${a.length} of ${opts.clients} came back`);
    }
    if (results.client) {
      // What the algorithm promises, whatever the load on this machine: the delays spread over
      // half the retry window (jitter 0.5), where a spec EventSource's are all equal.
      const d = results.client.delays;
      const width = percentile(d, 99) - percentile(d, 1);
      const ok = width >= 0.4 * opts.retryMs;
      console.log(`\n  ${ok ? 'ok  ' : 'FAIL'} @ssekit/client's delays spread over ${Math.round(width)} ms (p1..p99) of a ${opts.retryMs} ms retry`);
      if (!ok) failures.push('no spread');
    }
    if (results.client && results.eventsource) {
      const [ours, theirs] = [results.client.arrivals, results.eventsource.arrivals];
      console.log(`  busiest 10 ms at the new server: ${busiest(ours, 10)} (@ssekit/client) vs ${busiest(theirs, 10)} (EventSource)`);
      console.log(`  busiest 100 ms at the new server: ${busiest(ours, 100)} (@ssekit/client) vs ${busiest(theirs, 100)} (EventSource)`);
    }
  } catch (error) {
    failures.push(error?.stack ?? String(error));
    console.error(`  FAIL ${error?.stack ?? error}`);
  } finally {
    killAll();
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
  // Client sockets and timers are closed; undici may keep idle sockets a moment longer.
  setTimeout(() => process.exit(), 100).unref();
}

if (process.argv[2] === '--serve') await serve(Number(process.argv[3]), Number(process.argv[4]));
else await main();
