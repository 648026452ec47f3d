/**
 * Server process: starts one server from servers.mjs and, on command, broadcasts a ~100-byte
 * JSON payload M times a second, each carrying its scheduled and actual send times.
 *
 * The schedule is the harness's, fixed in advance (event i is due at t0 + i/M): a server that
 * falls behind sends the overdue events as soon as it can, so lag shows up as latency from the
 * scheduled time and as fewer events sent by the end of the window, never as a quietly slower
 * schedule.
 *
 * Usage: node --expose-gc server.mjs <name> (a Fetch lane runs on its own runtime: bun, or deno
 * run with --v8-flags=--expose-gc); then IPC commands run, stats, mem, exit.
 */
import { performance } from 'node:perf_hooks';
import { schedule } from '@ssekit/harness/schedule';
import { allServers } from './servers.mjs';

const name = process.argv[2];
const def = allServers()[name];
if (!def) {
  console.error(`unknown server ${name}`);
  process.exit(2);
}

const PAD = 'x'.repeat(64);

/** Builds the payload for event `seq`; the pad keeps the JSON near 100 bytes. */
function payload(measured, seq, sched, sent) {
  return { m: measured ? 1 : 0, seq, sched: Math.round(sched * 1000) / 1000, sent: Math.round(sent * 1000) / 1000, pad: PAD.slice(0, 40 - String(seq).length) };
}

const instance = await def.create();

let cpu0 = process.cpuUsage();
let elu0 = performance.eventLoopUtilization();

/**
 * Runs the schedule: `warmupMs` unmeasured, then `durationMs` measured, at `rate` events/s,
 * published `burst` at a time in one tick (so `rate / burst` bursts a second).
 */
async function run({ rate, burst = 1, durationMs, warmupMs }) {
  const { done } = schedule({
    rate: rate / burst,
    durationMs,
    warmupMs,
    send: (slot, sched, sent, measured) => {
      for (let k = 0; k < burst; k++) void instance.broadcast(payload(measured, slot * burst + k, sched, sent));
    },
    onMeasureStart: () => {
      cpu0 = process.cpuUsage();
      elu0 = performance.eventLoopUtilization();
    },
  });
  const { from, to, scheduled, sent, lag } = await done;
  return { from, to, scheduled: scheduled * burst, sent: sent * burst, lag, connections: instance.count() };
}

function memory() {
  // Node and Deno with --expose-gc have gc(); Bun has Bun.gc().
  for (let k = 0; k < 3; k++) (globalThis.gc ?? ((full) => globalThis.Bun?.gc(full)))(true);
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, connections: instance.count() };
}

process.on('message', async (msg) => {
  switch (msg.cmd) {
    case 'count':
      process.send({ type: 'count', connections: instance.count() });
      break;
    case 'run':
      process.send({ type: 'ran', ...(await run(msg)) });
      break;
    case 'stats': {
      const cpu = process.cpuUsage(cpu0);
      const m = process.memoryUsage();
      process.send({
        type: 'stats',
        cpuUser: cpu.user / 1e6,
        cpuSystem: cpu.system / 1e6,
        elu: performance.eventLoopUtilization(elu0).utilization,
        rss: m.rss,
        heapUsed: m.heapUsed,
        connections: instance.count(),
      });
      break;
    }
    case 'mem':
      process.send({ type: 'mem', ...memory() });
      break;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port: instance.port, pid: process.pid });
