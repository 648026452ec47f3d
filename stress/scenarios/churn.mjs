/**
 * Churn: many connect/disconnect cycles, on the core handler and on each adapter, while a
 * topic is broadcast to.
 *
 * Each cycle opens a stream on two topics (a shared one and one of 500 others) and ends it in
 * one of four ways, in turn: the client resets the TCP connection (RST), the client drops the
 * socket (FIN, no more reads), the client half-closes politely (`socket.end()`), or the server
 * closes the stream (`?close=1`). Clients run `--concurrency` at a time.
 *
 * Invariants, per target, once the cycles are done:
 * - hub connections, handler connections and topics are back to 0, and so is the shared
 *   heartbeat (`heartbeatStats()`: no timer, no member);
 * - no process warning (MaxListenersExceededWarning and the like) on the server;
 * - heap used after a full GC grew by less than `--heapBound` bytes between the end of the
 *   warm-up (a tenth of the cycles) and the end;
 * - every cycle got a 200 and ended within its deadline (no stream left hanging).
 */
import { options } from '@ssekit/harness/args';
import { builtEntry } from '@ssekit/harness/workspace';
import { Report, mib, until, pool, startServer } from '../lib/harness.mjs';
import { openStream } from '../lib/sse-client.mjs';

const opts = options({
  adapters: { default: 'core,express,fastify,koa' },
  cycles: { default: 10_000 },
  concurrency: { default: 50 },
  heapBound: { default: 1024 * 1024 }, // bytes of heap growth allowed after GC
}, undefined, { strict: false });

const KINDS = ['reset', 'destroy', 'end', 'server'];

async function churn(adapter) {
  return Report.run(`churn (${adapter}): ${opts.cycles} connect/disconnect cycles`, 300_000, async (report) => {
    const server = await startServer({ adapter, replayEvents: 100, heartbeatMs: 1000, retryMs: 2000 });
    report.onCleanup(() => server.close());
    const ticker = server.ask({ cmd: 'broadcast', topic: 'shared', rate: 200, total: 1e9, payloadBytes: 64, batchMs: 20 }, 'ok');
    await ticker;

    const statuses = new Map();
    const kinds = Object.fromEntries(KINDS.map((k) => [k, 0]));
    let failed = 0;
    let firstFailure = '';
    async function cycle(i) {
      const kind = KINDS[i % KINDS.length];
      const path = `/events?topic=shared&topic=t${i % 500}${kind === 'server' ? '&close=1' : ''}`;
      try {
        const stream = await openStream(server.port, path, { timeoutMs: 10_000 });
        statuses.set(stream.status, (statuses.get(stream.status) ?? 0) + 1);
        if (kind !== 'server') stream.close(kind);
        const closedInTime = await Promise.race([stream.closed.then(() => true), new Promise((r) => setTimeout(r, 10_000, false))]);
        if (!closedInTime) {
          stream.close('destroy');
          throw new Error(`${kind}: stream still open 10 s after closing`);
        }
        kinds[kind]++;
      } catch (error) {
        failed++;
        firstFailure ||= String(error?.message ?? error);
      }
    }

    const warmup = Math.floor(opts.cycles / 10);
    const t0 = Date.now();
    await pool(warmup, opts.concurrency, (i) => cycle(i));
    await until(async () => (await server.stats()).hubConnections === 0, 10_000, 'connections to close after the warm-up');
    const base = await server.stats({ gc: true });
    await pool(opts.cycles - warmup, opts.concurrency, (i) => cycle(warmup + i));
    const elapsed = Date.now() - t0;

    let end;
    await until(
      async () => {
        end = await server.stats({ topics: ['shared'] });
        return end.hubConnections === 0 && end.handlerConnections === 0;
      },
      15_000,
      'every connection to be unregistered',
      100,
    ).catch(() => {});
    end = await server.stats({ gc: true, topics: ['shared'] });

    report.figure('cycles', `${opts.cycles} in ${(elapsed / 1000).toFixed(1)} s (${Math.round((opts.cycles / elapsed) * 1000)}/s), concurrency ${opts.concurrency}`);
    report.figure('cycles by close kind', JSON.stringify(kinds));
    report.figure('server-side close reasons', JSON.stringify(end.closes));
    report.figure('response statuses', JSON.stringify(Object.fromEntries(statuses)));
    report.check('every cycle opened (200) and closed in time', failed === 0 && statuses.size === 1 && statuses.get(200) === opts.cycles, firstFailure);
    report.check('every stream opened was closed', end.opened.count === Object.values(end.closes).reduce((a, b) => a + b, 0), `opened ${end.opened.count}`);
    report.check('hub and handler connections back to 0', end.hubConnections === 0 && end.handlerConnections === 0, `hub ${end.hubConnections}, handler ${end.handlerConnections}`);
    const topics = end.topics ?? end.topicCounts[0];
    report.check('topics back to 0', topics === 0 && end.topicCounts[0] === 0, `topics ${end.topics}, shared ${end.topicCounts[0]}`);
    report.check('heartbeat back to 0 timers, 0 members', end.heartbeat.timers === 0 && end.heartbeat.members === 0, JSON.stringify(end.heartbeat));
    report.check('no process warnings (MaxListenersExceededWarning, ...)', end.warnings.length === 0, end.warnings.slice(0, 3).join('; '));
    const growth = end.heapUsed - base.heapUsed;
    report.figure('heap used after GC: warm-up -> end', `${mib(base.heapUsed)} -> ${mib(end.heapUsed)} (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(0)} KiB)`);
    report.figure('per cycle after warm-up', `${(growth / (opts.cycles - warmup)).toFixed(1)} B`);
    report.check(`heap growth under ${(opts.heapBound / 1024).toFixed(0)} KiB`, growth < opts.heapBound);
    report.figure('active handles: warm-up -> end', `${base.handles} -> ${end.handles}`);
    report.check('no handle left behind', end.handles <= base.handles);
    report.figure('server RSS', mib(end.rss));
  });
}

let failures = 0;
for (const adapter of opts.adapters.split(',')) {
  if (adapter !== 'core' && !builtEntry(`@ssekit/${adapter}`)) {
    console.log(`\n=== churn (${adapter}): skipped, @ssekit/${adapter} is not built`);
    continue;
  }
  const report = await churn(adapter);
  failures += report.failures.length;
}
process.exitCode = failures === 0 ? 0 : 1;
