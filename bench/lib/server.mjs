/**
 * Server process: starts one server from servers.mjs and, on command, broadcasts a ~100-byte
 * JSON payload M times a second, each carrying its scheduled and actual send times.
 *
 * The schedule is fixed in advance (event i is due at t0 + i/M): a server that falls behind
 * sends the overdue events as soon as it can (each tick sends what was due when it started,
 * then yields to I/O), so lag shows up as latency from the scheduled time and as fewer events
 * sent by the end of the window, never as a quietly slower schedule.
 *
 * Usage: node --expose-gc server.mjs <name>; then IPC commands run, stats, mem, exit.
 */
import { performance } from 'node:perf_hooks';
import { now } from './clock.mjs';
import { createHistogram, record, toJSON } from './histogram.mjs';
import { SERVERS } from './servers.mjs';

const name = process.argv[2];
const def = SERVERS[name];
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

/** Runs the schedule: `warmupMs` unmeasured, then `durationMs` measured, at `rate` events/s. */
function run({ rate, durationMs, warmupMs }) {
  return new Promise((resolve) => {
    const period = 1000 / rate;
    const t0 = now() + 20;
    const warmupCount = Math.round((warmupMs * rate) / 1000);
    const total = warmupCount + Math.round((durationMs * rate) / 1000);
    const tEnd = t0 + warmupMs + durationMs;
    const lag = createHistogram();
    let i = 0;
    let measuredStarted = false;
    const tick = () => {
      const start = now();
      if (!measuredStarted && start >= t0 + warmupMs - period) {
        measuredStarted = true;
        cpu0 = process.cpuUsage();
        elu0 = performance.eventLoopUtilization();
      }
      while (i < total && t0 + i * period <= start) {
        const sched = t0 + i * period;
        const measured = i >= warmupCount;
        const sent = now();
        instance.broadcast(payload(measured, i, sched, sent));
        if (measured) record(lag, sent - sched);
        i++;
      }
      const t = now();
      if (i >= total || t >= tEnd + period) {
        resolve({ from: t0 + warmupMs, to: tEnd, scheduled: total - warmupCount, sent: Math.max(0, i - warmupCount), lag: toJSON(lag), connections: instance.count() });
        return;
      }
      const due = t0 + i * period;
      if (due <= t) setImmediate(tick);
      else setTimeout(tick, Math.max(0, Math.floor(due - t)));
    };
    setTimeout(tick, 20);
  });
}

function memory() {
  for (let k = 0; k < 3; k++) globalThis.gc?.();
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
