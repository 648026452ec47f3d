/**
 * Child processes for the stress scenarios: servers driven over IPC, and redis-server. Every
 * child is recorded and killed by {@link killAll}, which the scenarios call on every exit path.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const children = new Set();

/**
 * Spawns `node args` through `sh` so the child gets the hard open-files limit as its soft
 * limit (a thousand streams need two thousand descriptors in one process).
 */
export function spawnNode(args, { ipc = false, env = process.env } = {}) {
  const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', ...(ipc ? ['ipc'] : [])],
    env,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const serverScript = fileURLToPath(new URL('./server.mjs', import.meta.url));

/** Starts a server child (see server.mjs) and resolves once it listens. */
export async function startServer(config) {
  const child = spawnNode(['--expose-gc', serverScript, JSON.stringify(config)], { ipc: true });
  const waiters = [];
  const inbox = [];
  child.on('message', (message) => {
    if (message.type === 'error') console.error(`server error: ${message.message}`);
    const i = waiters.findIndex((w) => w.type === message.type);
    if (i !== -1) waiters.splice(i, 1)[0].resolve(message);
    else inbox.push(message);
  });
  const exited = once(child, 'exit');
  function next(type, timeoutMs = 30_000) {
    const i = inbox.findIndex((m) => m.type === type);
    if (i !== -1) return Promise.resolve(inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not answer '${type}' within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ type, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      exited.then(() => reject(new Error(`server exited while waiting for '${type}'`)));
    }).catch((error) => {
      const j = waiters.findIndex((w) => w.type === type);
      if (j !== -1) waiters.splice(j, 1);
      throw error;
    });
  }
  const ready = await next('ready', 20_000);
  return {
    port: ready.port,
    pid: ready.pid,
    child,
    next,
    async request(message, replyType, timeoutMs) {
      const reply = next(replyType, timeoutMs);
      child.send(message);
      return reply;
    },
    stats(extra = {}) {
      return this.request({ cmd: 'stats', ...extra }, 'stats');
    },
    async close() {
      if (child.exitCode !== null) return;
      await this.request({ cmd: 'close' }, 'closed', 20_000);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a throwaway redis-server (no persistence) and resolves once it accepts commands. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.write('PING\r\n');
        socket.once('data', (d) => {
          socket.destroy();
          resolve(d.toString().startsWith('+PONG'));
        });
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 3000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Kills every child still running. */
export function killAll() {
  for (const child of children) {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
