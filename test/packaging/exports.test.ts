/**
 * Every package is consumed from its build the way users consume it: `require` and `import`
 * through the `exports` map, each with its own declaration file. Runs on the output of
 * `npm run setup` (install + build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const PACKAGES = {
  core: ['formatEvent', 'formatComment', 'SseFormatError', 'SseClosedError', 'SseWriter', 'SseConnection', 'createConnection', 'DefaultProvider', 'Hub', 'MemoryReplayer', 'withReplay', 'isClientDisconnected'],
  express: ['expressSse', 'default'],
  fastify: ['fastifySse', 'default'],
  koa: ['koaSse', 'default'],
  redis: ['RedisBroadcaster', 'RedisReplayer'],
} as const;

interface ExportsMap {
  '.': { import: { types: string; default: string }; require: { types: string; default: string } };
}

/** Runs a snippet with plain Node from inside the package's folder, as a dependent would. */
function run(cwd: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim();
}

describe.each(Object.entries(PACKAGES))('@ssekit/%s build', (name, names) => {
  const dir = resolve(ROOT, 'packages', name);
  const pkg = JSON.parse(readFileSync(resolve(dir, 'package.json'), 'utf8')) as { exports: ExportsMap; engines: { node: string } };

  it('has every file its exports map names', () => {
    const entry = pkg.exports['.'];
    for (const file of [entry.import.types, entry.import.default, entry.require.types, entry.require.default]) {
      expect(existsSync(resolve(dir, file))).toBe(true);
    }
    expect(pkg.engines.node).toBe('>=20');
  });

  it('loads with require() and with import, exposing the same names', () => {
    const required = JSON.parse(
      run(dir, ['-e', `console.log(JSON.stringify(Object.keys(require('@ssekit/${name}')).sort()))`]),
    ) as string[];
    const imported = JSON.parse(
      run(dir, ['--input-type=module', '-e', `const m = await import('@ssekit/${name}'); console.log(JSON.stringify(Object.keys(m).sort()))`]),
    ) as string[];
    for (const expected of names) {
      expect(imported).toContain(expected);
      if (expected !== 'default') expect(required).toContain(expected);
    }
  });
});
