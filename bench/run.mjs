#!/usr/bin/env node
/**
 * ssekit broadcast benchmark: every server under test side by side in one run.
 *
 * For each cell (N connections x M events/s) and each run, every server is started in its own
 * process, loaded by separate client processes, and made to broadcast a ~100-byte JSON event M
 * times a second. Reported per server and cell (median over runs): server CPU seconds per
 * million deliveries, delivered/expected, sent/scheduled, delivered events/s, and latency
 * p50/p99/max measured from each event's scheduled send time. A memory scenario then measures
 * heap and RSS per idle connection.
 *
 *   pnpm bench                         all servers, 9 cells, 3 runs x 10 s (45+ minutes)
 *   pnpm bench --quick                 a short smoke run (under a minute)
 *   node bench/run.mjs --servers raw-http,core-http,better-sse --cells 1000x50,5000x100 \
 *     --runs 3 --duration 5 --memory 10000
 *
 * Run `node bench/run.mjs --help` for every flag.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createHistogram, merge, percentile } from '@ssekit/harness/histogram';
import { fileLimits, killAll, killAllOnSignals, start } from '@ssekit/harness/procs';
import { runtimeCommand } from '@ssekit/harness/runtimes';
import { allServers, available } from './lib/servers.mjs';
import { evaluateTargets, parseCell, renderMarkdown, renderSvg, renderTable } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SERVERS = allServers();
const SERVER_FILE = join(here, 'lib', 'server.mjs');
const CLIENT_FILE = join(here, 'lib', 'client.mjs');

const ALL_CELLS = ['100x50', '100x200', '100x1000', '1000x50', '1000x200', '1000x1000', '1000x200b10', '5000x50', '5000x200', '5000x1000'];
const QUICK = { servers: ['raw-http', 'core-http', 'express', 'better-sse'], cells: ['1000x50', '1000x200'], runs: 1, duration: 1, warmup: 0.3, memory: 2000 };

const HELP = `Usage: node bench/run.mjs [flags]
  --servers a,b,...   servers to run (default: all that are built)
                      ${Object.keys(SERVERS).join(', ')}
  --cells NxM,...     connections x events/s (default: ${ALL_CELLS.join(',')}); none: memory only;
                      NxMbB: the M events/s come in bursts of B published in one tick
  --duration S        measured seconds per cell and run (default 10)
  --warmup S          unmeasured seconds before each measurement (default 1)
  --runs R            runs per cell; the median is reported (default 3)
  --clients K         client processes (default: 1 for N <= 200, else 2)
  --memory N          idle connections in the memory scenario (default 10000; 0 skips it)
  --quick             ${QUICK.servers.length} servers (those built), cells ${QUICK.cells.join(',')}, 1 run x ${QUICK.duration} s, memory ${QUICK.memory}
  --out NAME          result file name under bench/results/ (default: a timestamp); a named run also writes NAME.md and NAME.svg
  --no-latest         do not overwrite bench/results/latest.{json,md,svg}
  --profile DIR       run servers under \`node --cpu-prof\`, writing .cpuprofile files to DIR
  --help`;

/** The flags, for `node:util`'s parseArgs: every value is a string, checked below. */
const FLAGS = {
  servers: { type: 'string' },
  cells: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  runs: { type: 'string' },
  clients: { type: 'string' },
  memory: { type: 'string' },
  out: { type: 'string' },
  'no-latest': { type: 'boolean' },
  profile: { type: 'string' },
  quick: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new Error(`${error.message}\n${HELP}`);
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const opts = { duration: 10, warmup: 1, runs: 3, memory: 10_000, latest: !values['no-latest'], out: values.out, profile: values.profile, quick: Boolean(values.quick) };
  if (values.servers !== undefined) opts.servers = values.servers.split(',').filter(Boolean);
  if (values.cells !== undefined) opts.cells = values.cells.split(',').filter((c) => c && c !== 'none');
  for (const k of ['duration', 'warmup', 'runs', 'clients', 'memory']) if (values[k] !== undefined) opts[k] = Number(values[k]);
  if (opts.quick) {
    for (const [k, v] of Object.entries(QUICK)) if (values[k] === undefined) opts[k] = v;
  }
  const built = Object.keys(SERVERS).filter((s) => available(SERVERS, s));
  const requested = opts.servers ?? Object.keys(SERVERS);
  for (const s of requested) if (!SERVERS[s]) throw new Error(`unknown server ${s}`);
  opts.skipped = requested.filter((s) => !available(SERVERS, s));
  opts.servers = requested.filter((s) => built.includes(s));
  opts.cells = (opts.cells ?? ALL_CELLS).map((c) => {
    const cell = parseCell(c);
    if (!cell) throw new Error(`bad cell ${c}: use NxM or NxMbB, e.g. 1000x50 or 1000x200b10`);
    return cell;
  });
  for (const [k, min, max] of [['duration', 0.2, 600], ['warmup', 0, 60], ['runs', 1, 20], ['memory', 0, 30_000]]) {
    if (!(opts[k] >= min && opts[k] <= max)) throw new Error(`--${k} must be between ${min} and ${max}`);
  }
  if (opts.clients !== undefined && !(Number.isInteger(opts.clients) && opts.clients >= 1)) throw new Error('--clients must be a positive integer');
  if (opts.cells.some((c) => c.n < 1 || c.n > 20_000 || c.m < 1 || c.m > 10_000)) throw new Error('cells: N in 1..20000, M in 1..10000');
  if (opts.cells.some((c) => c.burst < 1 || c.m % c.burst !== 0)) throw new Error('cells: a burst B must divide M');
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
};

function clientCount(n, opts) {
  return Math.max(1, Math.min(opts.clients ?? (n <= 200 ? 1 : 2), n));
}

/**
 * Starts the process of server `name` on its runtime (Node, or Bun or Deno for a Fetch lane),
 * with `nodeArgs` when it is Node; the runtime's temporary files go when it exits.
 */
function startServer(name, nodeArgs, files) {
  const runtime = SERVERS[name].runtime ?? 'node';
  const command = runtimeCommand(runtime, { nodeArgs });
  const args = runtime === 'deno' ? [...command.args, '--v8-flags=--expose-gc'] : command.args;
  const server = start(SERVER_FILE, [name], { executable: command.executable, nodeArgs: args, files, label: `server ${name}`, env: { ...process.env, ...command.env } });
  server.exited.then(command.cleanup, command.cleanup);
  return server;
}

/** Starts one server and K clients and opens N streams; returns the handles. */
async function setUp(name, n, opts) {
  const nodeArgs = ['--expose-gc', ...(opts.profile ? ['--cpu-prof', '--cpu-prof-dir', opts.profile, '--cpu-prof-name', `${name}-${n}-${Date.now()}.cpuprofile`] : [])];
  const server = startServer(name, nodeArgs, n + 256);
  const ready = await server.next('ready', 20_000);
  const k = clientCount(n, opts);
  const clients = [];
  for (let c = 0; c < k; c++) {
    const client = start(CLIENT_FILE, [], { files: Math.ceil(n / k) + 256, label: `client ${c}` });
    clients.push(client);
  }
  await Promise.all(clients.map((c) => c.next('ready', 20_000)));
  const share = (c) => Math.floor(n / k) + (c < n % k ? 1 : 0);
  const connected = await Promise.all(clients.map((c, i) => c.ask({ cmd: 'connect', port: ready.port, path: '/sse', count: share(i) }, 'connected', 120_000)));
  const open = connected.reduce((s, r) => s + r.open, 0);
  const failed = connected.reduce((s, r) => s + r.failed, 0);
  // Wait until the server has registered every stream the clients see as open.
  let registered = 0;
  for (let t = 0; t < 100; t++) {
    registered = (await server.ask({ cmd: 'count' }, 'count')).connections;
    if (registered >= open) break;
    await sleep(50);
  }
  return { server, clients, open, failed, registered };
}

async function tearDown(setup) {
  if (!setup) return;
  await Promise.allSettled(setup.clients.map((c) => c.ask({ cmd: 'close' }, 'closed', 10_000)));
  await Promise.allSettled([...setup.clients.map((c) => c.stop()), setup.server.stop()]);
}

/** One measurement of one server in one cell. */
async function measure(name, cell, opts) {
  let setup;
  try {
    setup = await setUp(name, cell.n, opts);
    const { server, clients } = setup;
    await Promise.all(clients.map((c) => c.ask({ cmd: 'reset' }, 'reset')));
    const durationMs = opts.duration * 1000;
    const warmupMs = opts.warmup * 1000;
    const ran = await server.ask({ cmd: 'run', rate: cell.m, burst: cell.burst, durationMs, warmupMs }, 'ran', durationMs + warmupMs + 120_000);
    // Let in-flight events arrive: stop when the count holds still (or after 5 s).
    let last = -1;
    for (let t = 0; t < 25; t++) {
      await sleep(200);
      const counts = await Promise.all(clients.map((c) => c.ask({ cmd: 'count' }, 'count')));
      const total = counts.reduce((s, r) => s + r.events, 0);
      if (total === last) break;
      last = total;
    }
    const stats = await server.ask({ cmd: 'stats' }, 'stats');
    const reports = await Promise.all(clients.map((c) => c.ask({ cmd: 'report', from: ran.from, to: ran.to }, 'report')));
    const hist = createHistogram();
    for (const r of reports) merge(hist, r.hist);
    const delivered = reports.reduce((s, r) => s + r.events, 0);
    const lag = merge(createHistogram(), ran.lag);
    const expected = ran.sent * setup.open;
    const cpu = stats.cpuUser + stats.cpuSystem;
    return {
      ok: setup.open === cell.n,
      connections: setup.open,
      connectFailed: setup.failed,
      registered: setup.registered,
      scheduled: ran.scheduled,
      sent: ran.sent,
      sentRatio: ran.sent / ran.scheduled,
      delivered,
      expected,
      deliveredRatio: expected ? delivered / expected : NaN,
      // Throughput: benchmark events that reached a client inside the measured window.
      deliveredPerSec: reports.reduce((s, r) => s + r.inWindow, 0) / ((ran.to - ran.from) / 1000),
      cpuSec: cpu,
      cpuUser: stats.cpuUser,
      cpuSystem: stats.cpuSystem,
      cpuPerMillion: delivered ? (cpu / delivered) * 1e6 : NaN,
      userPerMillion: delivered ? (stats.cpuUser / delivered) * 1e6 : NaN,
      serverElu: stats.elu,
      serverRssMB: stats.rss / 2 ** 20,
      p50: percentile(hist, 50),
      p99: percentile(hist, 99),
      max: hist.max,
      sendLagP99: percentile(lag, 99),
      clientEluMax: Math.max(...reports.map((r) => r.elu)),
      closedEarly: reports.reduce((s, r) => s + r.closedEarly, 0),
    };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  } finally {
    await tearDown(setup).catch(() => {});
  }
}

/** Heap and RSS of `count` idle streams, minus the same server's baseline. */
async function memoryScenario(name, count, opts) {
  let setup;
  let baseServer;
  try {
    // Baseline: the same server, started, listening, no streams.
    baseServer = startServer(name, ['--expose-gc'], 256);
    await baseServer.next('ready', 20_000);
    await sleep(300);
    const base = await baseServer.ask({ cmd: 'mem' }, 'mem');
    await baseServer.stop();
    baseServer = undefined;

    setup = await setUp(name, count, { ...opts, clients: opts.clients ?? 2 });
    await sleep(500);
    const loaded = await setup.server.ask({ cmd: 'mem' }, 'mem', 60_000);
    const n = setup.open;
    return {
      ok: n === count,
      connections: n,
      baseRssMB: base.rss / 2 ** 20,
      rssMB: loaded.rss / 2 ** 20,
      heapMB: loaded.heapUsed / 2 ** 20,
      rssPerConnKB: (loaded.rss - base.rss) / n / 1024,
      heapPerConnKB: (loaded.heapUsed - base.heapUsed) / n / 1024,
      externalPerConnKB: (loaded.external - base.external) / n / 1024,
    };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  } finally {
    await baseServer?.stop().catch(() => {});
    await tearDown(setup).catch(() => {});
  }
}

const fmtClock = () => new Date().toISOString().slice(11, 19);

async function main() {
  const opts = options(process.argv.slice(2));
  const limits = fileLimits();
  const needFiles = Math.max(opts.memory, ...opts.cells.map((c) => c.n)) + 256;
  console.log(`ssekit bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`open-file limit ${limits.soft} (hard ${limits.hard}); needed per process ~${needFiles}${needFiles > limits.soft ? (limits.hard >= needFiles ? ': children are started with a raised limit' : ': NOT available, large cells will fail') : ''}`);
  if (opts.skipped.length) console.log(`skipped (package not built): ${opts.skipped.join(', ')}`);
  console.log(`servers: ${opts.servers.join(', ')}\ncells: ${opts.cells.map((c) => c.key).join(', ')}; ${opts.runs} run(s) x ${opts.duration} s (+${opts.warmup} s warm-up); memory: ${opts.memory || 'skipped'}`);
  if (opts.servers.length === 0) throw new Error('no server to run');

  const startedAt = new Date();
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const name = opts.out ?? startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const partialFile = join(dir, `${name}.json.tmp`);
  const samples = {}; // samples[cell][server] = [result per run]
  for (let run = 0; run < opts.runs; run++) {
    for (const cell of opts.cells) {
      // Rotate the order each run so that no server always goes first (or last) on a busy box.
      const order = opts.servers.map((_, i) => opts.servers[(i + run) % opts.servers.length]);
      for (const name of order) {
        const r = await measure(name, cell, opts);
        ((samples[cell.key] ??= {})[name] ??= []).push(r);
        // Keep what has been measured so far, should a later step fail.
        writeFileSync(partialFile, JSON.stringify({ command: process.argv.slice(2), samples }, null, 1));
        const line = r.error
          ? `ERROR ${r.error}`
          : `${(r.deliveredPerSec / 1000).toFixed(1)}k ev/s, sent ${(100 * r.sentRatio).toFixed(1)}%, delivered ${(100 * r.deliveredRatio).toFixed(1)}%, ${r.cpuPerMillion.toFixed(2)} cpu-s/M, p99 ${r.p99.toFixed(1)} ms, client ELU ${r.clientEluMax.toFixed(2)}`;
        console.log(`[${fmtClock()}] run ${run + 1}/${opts.runs} ${cell.key.padEnd(9)} ${name.padEnd(12)} ${line}`);
      }
    }
  }

  const cells = {};
  for (const cell of opts.cells) {
    cells[cell.key] = {};
    for (const name of opts.servers) {
      const runs = samples[cell.key][name];
      const good = runs.filter((r) => !r.error);
      const med = {};
      if (good.length) for (const k of Object.keys(good[0])) if (typeof good[0][k] === 'number') med[k] = median(good.map((r) => r[k]));
      cells[cell.key][name] = { median: good.length ? med : null, runs, errors: runs.length - good.length };
    }
  }

  const memory = {};
  if (opts.memory > 0) {
    for (const name of opts.servers) {
      const r = await memoryScenario(name, opts.memory, opts);
      memory[name] = r;
      writeFileSync(partialFile, JSON.stringify({ command: process.argv.slice(2), samples, memory }, null, 1));
      console.log(`[${fmtClock()}] memory ${name.padEnd(12)} ${r.error ? `ERROR ${r.error}` : `${r.connections} idle: RSS +${r.rssPerConnKB.toFixed(2)} KB/conn, heap +${r.heapPerConnKB.toFixed(2)} KB/conn`}`);
    }
  }

  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { node: process.version, cpus: os.cpus().length, model: os.cpus()[0]?.model, totalMemGB: os.totalmem() / 2 ** 30, loadavgAtEnd: os.loadavg() },
    options: { servers: opts.servers, skipped: opts.skipped, cells: opts.cells.map((c) => c.key), duration: opts.duration, warmup: opts.warmup, runs: opts.runs, memory: opts.memory },
    labels: Object.fromEntries(opts.servers.map((s) => [s, SERVERS[s].label])),
    frameworks: Object.fromEntries(opts.servers.map((s) => [s, SERVERS[s].framework])),
    cells,
    memory,
  };
  result.targets = evaluateTargets(result);

  console.log('\n' + renderTable(result));
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
  rmSync(partialFile, { force: true });
  console.log(`\nresults: ${file}`);
  if (opts.out) {
    // A named run keeps its own tables and chart, for a page to include.
    writeFileSync(join(dir, `${name}.md`), renderMarkdown(result));
    writeFileSync(join(dir, `${name}.svg`), renderSvg(result));
    console.log(`also: ${join(dir, `${name}.md`)}, ${name}.svg`);
  }
  if (opts.latest) {
    copyFileSync(file, join(dir, 'latest.json'));
    writeFileSync(join(dir, 'latest.md'), renderMarkdown(result));
    writeFileSync(join(dir, 'latest.svg'), renderSvg(result));
    console.log(`also: ${join(dir, 'latest.json')}, latest.md, latest.svg`);
  }
}

killAllOnSignals();
main()
  .catch((error) => {
    console.error(error?.stack ?? error);
    process.exitCode = 1;
  })
  .finally(() => {
    killAll();
  });
