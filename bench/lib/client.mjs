/**
 * Load client process: opens many event streams to one server over node:http and counts
 * measured events, recording each one's latency from its *scheduled* send time.
 *
 * Parsing is deliberately minimal: events are split on the blank line that ends them, and
 * only measured benchmark events (payload starting `{"m":1`) are counted.
 *
 * Driven by the parent over IPC: connect, reset, report, close.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { now } from '@ssekit/harness/clock';
import { createHistogram, record, toJSON } from '@ssekit/harness/histogram';

const streams = new Set();
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let hist = createHistogram();
let events = 0;
let bytes = 0;
let closedEarly = 0;
let measuring = false;
/** Arrivals of every benchmark event (warm-up included) in 10 ms bins of the shared clock. */
const BIN_MS = 10;
let arrivals = new Map();
let elu0 = performance.eventLoopUtilization();

function onChunk(chunk) {
  bytes += chunk.length;
  const s = this.rest === '' ? chunk : this.rest + chunk;
  const t = now();
  let start = 0;
  let end;
  let arrived = 0;
  while ((end = s.indexOf('\n\n', start)) !== -1) {
    const k = s.indexOf('{"m":', start);
    if (k !== -1 && k < end) {
      arrived++;
      if (s.charCodeAt(k + 5) === 49 /* 1: measured */) {
        const q = s.indexOf('"sched":', k);
        if (q !== -1 && q < end) {
          events++;
          record(hist, t - parseFloat(s.slice(q + 8, q + 28)));
        }
      }
    }
    start = end + 2;
  }
  if (arrived !== 0) {
    const bin = Math.floor(t / BIN_MS);
    arrivals.set(bin, (arrivals.get(bin) ?? 0) + arrived);
  }
  this.rest = start === s.length ? '' : s.slice(start);
}

function open(port, path) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    const req = http.request({ host: '127.0.0.1', port, path, agent, headers: { accept: 'text/event-stream' } });
    req.setTimeout(20_000, () => req.destroy(new Error('connect timeout')));
    req.on('error', () => done(false));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        done(false);
        return;
      }
      req.setTimeout(0);
      const stream = { res, rest: '' };
      streams.add(stream);
      res.setEncoding('latin1');
      res.on('data', onChunk.bind(stream));
      res.on('error', () => {});
      res.on('close', () => {
        if (streams.delete(stream) && measuring) closedEarly++;
      });
      done(true);
    });
    req.end();
  });
}

async function connect({ port, path, count, concurrency = 200 }) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      if (!(await open(port, path))) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { open: streams.size, failed };
}

function closeAll() {
  for (const { res } of streams) {
    const socket = res.socket;
    // A reset instead of a FIN keeps thousands of client ports out of TIME_WAIT between runs.
    if (socket && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else res.destroy();
  }
  streams.clear();
}

process.on('message', async (msg) => {
  switch (msg.cmd) {
    case 'connect':
      process.send({ type: 'connected', ...(await connect(msg)) });
      break;
    case 'reset':
      hist = createHistogram();
      events = 0;
      bytes = 0;
      closedEarly = 0;
      arrivals = new Map();
      measuring = true;
      elu0 = performance.eventLoopUtilization();
      process.send({ type: 'reset' });
      break;
    case 'count':
      process.send({ type: 'count', events, open: streams.size });
      break;
    case 'report': {
      // Events that arrived inside the measured window [from, to), to the bin.
      let inWindow = 0;
      for (const [bin, n] of arrivals) if (bin * BIN_MS >= msg.from && bin * BIN_MS < msg.to) inWindow += n;
      process.send({
        type: 'report',
        events,
        inWindow,
        bytes,
        open: streams.size,
        closedEarly,
        elu: performance.eventLoopUtilization(elu0).utilization,
        hist: toJSON(hist),
      });
      break;
    }
    case 'close':
      measuring = false;
      closeAll();
      process.send({ type: 'closed' });
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
