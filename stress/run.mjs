#!/usr/bin/env node
/**
 * Runs the stress scenarios, each in its own process (with the hard open-files limit), one
 * after the other, and exits non-zero if any invariant failed.
 *
 *   pnpm stress                                  every scenario, full size
 *   pnpm stress -- --scenario churn              one scenario (slow | churn | exactly-once | reconnect-spread | storm | conflation)
 *   pnpm stress -- --size quick                  smaller sizes, for a quick look
 *   pnpm stress -- --scenario slow --clients 300 --stalled 5   any scenario option
 *
 * Scenario options (defaults are the full size):
 *   slow          --adapter core|express|fastify|koa --backend memory|redis --clients 1000 --stalled 10 --seconds 20
 *                 --feedRate 50 --bulkRate 200 --bulkPayload 2048 --maxBuffered 1048576
 *   churn         --adapters core,express,fastify,koa --cycles 10000 --concurrency 50
 *                 --heapBound 1048576
 *   exactly-once  --backends memory,redis --adapter core --clients 50 --rate 1000 --seconds 15
 *                 --window 60 --seed 1 --topics 2
 *   reconnect-spread --clients 1000 --retryMs 1000 --downMs 0 --lanes client,eventsource --bucketMs 100
 *                 --warmup 1
 *   storm         --backends redis,memory --clients 2000 --rate 1000 --sharedRate 5 --steady 5 --after 5 --concurrency 0
 *   conflation    --lanes window,nowindow,plain --clients 1000 --slow 10 --rate 200 --payload 256 --windowMs 100
 *                 --slowShare 0.1 --seconds 20 --plainClients 100
 *
 * Everything listens on 127.0.0.1 and every child is stopped at the end. Packages must be
 * built first (`npx -y pnpm@12.4.2 -r build`); adapters and Redis are skipped when not built.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { killAllOnSignals, start } from '@ssekit/harness/procs';

const SCENARIOS = ['slow', 'churn', 'exactly-once', 'reconnect-spread', 'storm', 'conflation'];
const QUICK = {
  slow: ['--clients', '200', '--stalled', '4', '--seconds', '12'],
  churn: ['--cycles', '1000'],
  'exactly-once': ['--clients', '20', '--seconds', '6'],
  'reconnect-spread': ['--clients', '200'],
  storm: ['--clients', '200', '--steady', '3', '--after', '4'],
  conflation: ['--clients', '200', '--plainClients', '50', '--seconds', '8'],
};

const argv = process.argv.slice(2).filter((a) => a !== '--');
const { values } = parseArgs({
  args: argv,
  options: { scenario: { type: 'string', default: 'all' }, size: { type: 'string', default: 'full' }, help: { type: 'boolean' } },
  strict: false,
});
if (values.help) {
  console.log(fileURLToPath(import.meta.url));
  process.exit(0);
}
// Everything but our own options goes to the scenario.
const passThrough = [];
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const name = arg.replace(/^--/, '').split('=')[0];
  if (name === 'scenario' || name === 'size') {
    if (!arg.includes('=')) i++;
    continue;
  }
  passThrough.push(arg);
}

const selected = values.scenario === 'all' ? SCENARIOS : values.scenario.split(',');
for (const name of selected) {
  if (!SCENARIOS.includes(name)) {
    console.error(`unknown scenario "${name}"; expected one of: ${SCENARIOS.join(', ')}, all`);
    process.exit(2);
  }
}
if (!['full', 'quick'].includes(values.size)) {
  console.error('--size must be full or quick');
  process.exit(2);
}

killAllOnSignals();

const results = [];
const started = Date.now();
for (const name of selected) {
  const script = fileURLToPath(new URL(`./scenarios/${name}.mjs`, import.meta.url));
  const args = [...(values.size === 'quick' ? QUICK[name] : []), ...passThrough];
  const t0 = Date.now();
  // Each scenario in its own process, with the hard open-files limit (a thousand streams
  // need two thousand descriptors in one process).
  const { code, signal } = await start(script, args, { ipc: false, files: 'max', label: name }).exited;
  results.push({ name, ok: code === 0, detail: signal ?? `exit ${code}`, seconds: (Date.now() - t0) / 1000 });
}

console.log('\n=== stress summary');
for (const r of results) console.log(`  ${r.ok ? 'PASS' : 'FAIL'} ${r.name.padEnd(14)} ${r.seconds.toFixed(1)} s${r.ok ? '' : ` (${r.detail})`}`);
console.log(`  total ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
