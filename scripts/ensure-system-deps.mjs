#!/usr/bin/env node
/**
 * The test suite talks to a real redis-server and drives a real Chromium. This checks that both
 * are present and, when running as root on a Debian-like system, installs what is missing with
 * apt-get. Otherwise it prints how to install them and fails, rather than letting tests fail
 * later with a less clear error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const missing = [];
if (!hasCommand('redis-server')) missing.push('redis-server');
if (!existsSync(CHROMIUM)) missing.push('chromium');

if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && hasCommand('apt-get')) {
  console.log(`Installing system packages the tests need: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  process.exit(0);
}

console.error(
  `The tests need these system packages: ${missing.join(', ')}.\n` +
    `Install them first, for example: sudo apt-get install -y ${missing.join(' ')}\n` +
    `(Chromium is looked for at ${CHROMIUM}; set CHROMIUM_PATH to use another binary.)`,
);
process.exit(1);
