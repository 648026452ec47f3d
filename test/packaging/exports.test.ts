/**
 * Every package is consumed from its build the way users consume it: `require` and `import`
 * through the `exports` map, each with its own declaration file. Runs on the output of
 * `npm run setup` (install + build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** What every adapter re-exports from `@ssekit/core`, so that a quick start needs one install. */
const QUICK_START = ['Hub', 'MemoryReplayer', 'SseHttpError', 'SseFormatError', 'SseOptionsError', 'SseClosedError'];

/** Each entry point with names it must export (the API report pins the full list). */
const ENTRIES: readonly (readonly [pkg: string, entry: string, names: readonly string[]])[] = [
  ['core', '.', ['formatEvent', 'formatComment', 'SseFormatError', 'SseClosedError', 'SseWriter', 'SseConnection', 'createConnection', 'DefaultProvider', 'Hub', 'MemoryReplayer', 'withReplay', 'isClientDisconnected']],
  ['core', './integration', ['nodeSink', 'streamHeaders', 'formatEventBody', 'withIdLine', 'Registry', 'heartbeatStats', 'nonNegativeInt', 'positiveInt']],
  ['express', '.', ['expressSse', 'default', ...QUICK_START]],
  ['fastify', '.', ['fastifySse', 'default', ...QUICK_START]],
  ['koa', '.', ['koaSse', 'default', ...QUICK_START]],
  ['redis', '.', ['RedisBroadcaster', 'RedisReplayer']],
  ['fetch', '.', ['fetchSse', 'default', ...QUICK_START]],
  ['client', '.', ['connect', 'SseClientError', 'SseOptionsError', 'createEventStreamParser']],
];

interface Conditions {
  import: { types: string; default: string };
  require: { types: string; default: string };
}

/** Runs a snippet with plain Node from inside the package's folder, as a dependent would. */
function run(cwd: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim();
}

describe.each(ENTRIES)('@ssekit/%s, entry %s', (name, entry, names) => {
  const dir = resolve(ROOT, 'packages', name);
  const pkg = JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { exports: Record<string, Conditions>; engines: { node: string } };
  const specifier = entry === '.' ? `@ssekit/${name}` : `@ssekit/${name}/${entry.slice(2)}`;

  it('has every file its exports map names', () => {
    const conditions = pkg.exports[entry]!;
    for (const file of [conditions.import.types, conditions.import.default, conditions.require.types, conditions.require.default]) {
      expect(existsSync(resolve(dir, file))).toBe(true);
    }
    expect(pkg.engines.node).toBe('>=20');
  });

  it('loads with require() and with import, exposing the same names', () => {
    const required = JSON.parse(
      run(dir, ['-e', `console.log(JSON.stringify(Object.keys(require('${specifier}')).sort()))`]),
    ) as string[];
    const imported = JSON.parse(
      run(dir, ['--input-type=module', '-e', `const m = await import('${specifier}'); console.log(JSON.stringify(Object.keys(m).sort()))`]),
    ) as string[];
    for (const expected of names) {
      expect(imported).toContain(expected);
      if (expected !== 'default') expect(required).toContain(expected);
    }
    expect(required).toEqual(imported.filter((n) => n !== 'default' || required.includes('default')));
  });
});

describe('@ssekit/core entries share one copy of the code per format', () => {
  const dir = resolve(ROOT, 'packages', 'core');
  const snippet = (load: string): string => `
    ${load}
    const sink = { http2: false, destroyed: false, open() {}, write: () => true, bufferedBytes: () => 0, flush() {},
      cork() {}, uncork() {}, end() {}, destroy() {}, finished: () => Promise.resolve(), bind() {} };
    const conn = new core.SseConnection(sink, { heartbeatMs: 60000 });
    const registry = new integration.Registry();
    registry.register(conn);
    const seen = integration.heartbeatStats();
    conn.close();
    console.log(JSON.stringify([seen, integration.heartbeatStats(), registry.connectionCount()]));`;

  it.each([
    ['require', ['-e', snippet("const core = require('@ssekit/core'); const integration = require('@ssekit/core/integration');")]],
    ['import', ['--input-type=module', '-e', snippet("const core = await import('@ssekit/core'); const integration = await import('@ssekit/core/integration');")]],
  ])('with %s, the integration entry sees the connections of the main entry', (_how, args) => {
    expect(JSON.parse(run(dir, args))).toEqual([{ timers: 1, members: 1 }, { timers: 0, members: 0 }, 0]);
  });
});

describe.each(['express', 'fastify', 'koa'])('@ssekit/%s re-exports', (name) => {
  it.each([
    ['require', ['-e', `const a = require('@ssekit/${name}'); const c = require('@ssekit/core'); console.log(JSON.stringify(${JSON.stringify(QUICK_START)}.map((n) => a[n] === c[n])))`]],
    ['import', ['--input-type=module', '-e', `const a = await import('@ssekit/${name}'); const c = await import('@ssekit/core'); console.log(JSON.stringify(${JSON.stringify(QUICK_START)}.map((n) => a[n] === c[n])))`]],
  ])("core's own classes (with %s), not copies", (_how, args) => {
    expect(JSON.parse(run(resolve(ROOT, 'packages', name), args))).toEqual(QUICK_START.map(() => true));
  });
});
