/**
 * A private `redis-server`: loopback only, a free port, no persistence, its own temporary
 * directory; ready once it answers PING. It can be stopped politely, killed like a crash and
 * started again on the same port (empty, since nothing is persisted). Never the machine's
 * Redis on 6379.
 *
 * The pieces are exported on their own (`freePort`, `spawnRedis`, `command`) so that a launcher
 * of several nodes (a Redis Cluster: six servers with `--cluster-enabled yes`, then
 * `redis-cli --cluster create`) is built from the same parts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The binary: `$REDIS_SERVER`, else `/usr/bin/redis-server`. */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/**
 * A free TCP port on 127.0.0.1 (closed again before returning, so another process could take
 * it first: {@link RedisServer.start} retries on another port when the server cannot bind).
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Sends one command (inline form) and resolves with the raw reply, or rejects when the server
 * cannot be reached or does not answer within `timeoutMs`.
 * @param {number} port
 * @param {readonly string[]} args e.g. `['PING']`, `['CLUSTER', 'INFO']`
 * @param {number} [timeoutMs] default 1000
 * @returns {Promise<string>}
 */
export function command(port, args, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply);
    };
    const timer = setTimeout(() => done(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${args.join(' ')}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk;
      // A simple reply, an error or an integer ends at its first CRLF; a bulk string carries
      // its length.
      const head = /^\$(-?\d+)\r\n/.exec(reply);
      if (head ? Number(head[1]) < 0 || reply.length >= head[0].length + Number(head[1]) + 2 : reply.includes('\r\n')) done();
    });
    socket.once('error', done);
  });
}

/**
 * Resolves once the server on `port` answers PING, polling every 20 ms; rejects after
 * `timeoutMs` or as soon as `exited` settles (the process died).
 * @param {number} port
 * @param {number} timeoutMs
 * @param {Promise<unknown>} [exited]
 */
export async function waitForPing(port, timeoutMs, exited) {
  let gone = false;
  exited?.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await command(port, ['PING'], 500).catch(() => '');
    if (reply.startsWith('+PONG')) return;
    if (gone) throw new Error(`redis-server on port ${port} exited before answering PING`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts one `redis-server` process (no persistence, loopback, `dir` for its files) with
 * `extraArgs` appended, e.g. `['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']`.
 * The caller waits for it ({@link waitForPing}) and stops it.
 * @param {number} port
 * @param {string} dir
 * @param {readonly string[]} [extraArgs]
 */
export function spawnRedis(port, dir, extraArgs = []) {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk) => {
    // The start-up lines tell why a server did not come up; later output is only drained.
    if (output.length < 20_000) output += chunk;
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  return { child, exited, output: () => output };
}

/**
 * @typedef {object} RedisServerOptions
 * @property {readonly string[]} [args] extra `redis-server` arguments (default none)
 * @property {number} [startTimeoutMs] how long to wait for PING (default 10 000)
 */

/** A running (or stopped) redis-server on a port of its own. */
export class RedisServer {
  /**
   * @param {number} port
   * @param {string} dir
   * @param {RedisServerOptions} [options]
   */
  constructor(port, dir, options = {}) {
    /** The loopback port; it stays the same across restarts. */
    this.port = port;
    /** The server's temporary directory, removed by {@link RedisServer.dispose}. */
    this.dir = dir;
    this.options = options;
    /** @type {ReturnType<typeof spawnRedis> | undefined} */
    this.process = undefined;
  }

  /**
   * Starts a server on a free loopback port in a new temporary directory.
   * @template {RedisServer} T
   * @this {new (port: number, dir: string, options?: RedisServerOptions) => T}
   * @param {RedisServerOptions} [options]
   * @returns {Promise<T>}
   */
  static async start(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'ssekit-redis-'));
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new this(await freePort(), dir, options);
      try {
        await server.restart();
        return server;
      } catch (error) {
        // Most likely another process took the port between the probe and the bind.
        lastError = error;
        await server.kill();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** True while the process runs. */
  get running() {
    return this.process !== undefined;
  }

  /** Starts the server (again) on the same port; resolves once it answers PING. */
  async restart() {
    if (this.process) throw new Error('redis-server is already running');
    const proc = spawnRedis(this.port, this.dir, this.options.args);
    this.process = proc;
    proc.exited.then(() => {
      if (this.process === proc) this.process = undefined;
    });
    try {
      await waitForPing(this.port, this.options.startTimeoutMs ?? 10_000, proc.exited);
    } catch (error) {
      proc.child.kill('SIGKILL');
      throw new Error(`${error.message}:\n${proc.output()}`);
    }
  }

  /** Stops the server politely (SIGTERM; SIGKILL after `graceMs`) and waits for it to exit. */
  async stop(graceMs = 3000) {
    const proc = this.process;
    if (!proc) return;
    this.process = undefined;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** Kills the server (SIGKILL, like a crash) and waits for it to exit. */
  async kill() {
    const proc = this.process;
    if (!proc) return;
    this.process = undefined;
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** Kills the server if it still runs and removes its directory. */
  async dispose() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
