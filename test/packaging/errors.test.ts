/**
 * An app (or two of its dependencies) may load both builds of a package, the CommonJS one with
 * `require` and the ESM one with `import`: two copies of every error class. `instanceof` must
 * hold across the copies, both ways, for each class and its base classes, and must not mix up
 * classes. Runs plain Node on the built packages, through their `exports` maps.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const REDIS = resolve(__dirname, '../../packages/redis');

const script = `
const { createRequire } = await import('node:module');
const require = createRequire(process.cwd() + '/package.json');
const cjs = { ...require('@ssekit/core'), ...require('@ssekit/redis') };
const esm = { ...(await import('@ssekit/core')), ...(await import('@ssekit/redis')) };
const make = {
  SseError: (m) => new m.SseError('format', 'x'),
  SseFormatError: (m) => new m.SseFormatError('id', 'a\\nb', 'bad'),
  SseClosedError: (m) => new m.SseClosedError('client'),
  SseOptionsError: (m) => new m.SseOptionsError('heartbeatMs', -1, 'bad'),
  SseUnavailableError: (m) => new m.SseUnavailableError('down'),
  SseHttpError: (m) => new m.SseHttpError(403, 'Forbidden'),
  RedisUnavailableError: (m) => new m.RedisUnavailableError('down', false),
};
const out = { copies: cjs.SseHttpError !== esm.SseHttpError, checks: {} };
for (const [made, build] of [['cjs', cjs], ['esm', esm]]) {
  for (const [name, create] of Object.entries(make)) {
    const error = create(build);
    for (const [asked, other] of [['cjs', cjs], ['esm', esm]]) {
      out.checks[made + ' ' + name + ' instanceof ' + asked] = Object.keys(make).filter((cls) => error instanceof other[cls]).concat(error instanceof Error ? ['Error'] : []);
    }
  }
}
console.log(JSON.stringify(out));
`;

test('error classes recognise instances of the other build, both ways, class by class', () => {
  const result = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REDIS, encoding: 'utf8' })) as {
    copies: boolean;
    checks: Record<string, string[]>;
  };
  // Two real copies are loaded, or the test proves nothing.
  expect(result.copies).toBe(true);
  const expected: Record<string, string[]> = {
    SseError: ['SseError', 'Error'],
    SseFormatError: ['SseError', 'SseFormatError', 'Error'],
    SseClosedError: ['SseError', 'SseClosedError', 'Error'],
    SseOptionsError: ['SseError', 'SseOptionsError', 'Error'],
    SseUnavailableError: ['SseError', 'SseUnavailableError', 'Error'],
    SseHttpError: ['SseError', 'SseHttpError', 'Error'],
    RedisUnavailableError: ['SseError', 'SseUnavailableError', 'RedisUnavailableError', 'Error'],
  };
  for (const made of ['cjs', 'esm']) {
    for (const asked of ['cjs', 'esm']) {
      for (const [name, classes] of Object.entries(expected)) {
        expect([`${made} ${name} instanceof ${asked}`, result.checks[`${made} ${name} instanceof ${asked}`]]).toEqual([`${made} ${name} instanceof ${asked}`, classes]);
      }
    }
  }
});
