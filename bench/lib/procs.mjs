/**
 * Child processes of a benchmark run: spawned with an IPC channel, asked things with a
 * timeout, and all killed at the end, whatever happened.
 */
import { spawn, execFileSync } from 'node:child_process';

const live = new Set();

/** Soft and hard limits on open files, as the shell reports them. */
export function fileLimits() {
  try {
    const soft = execFileSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim();
    const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    const n = (v) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: n(soft), hard: n(hard) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/**
 * Starts `node <file> <args>` with IPC. When `files` is above the current soft limit, the
 * child goes through `sh -c 'ulimit -n …; exec node …'`, which keeps the IPC channel.
 */
export function start(file, args = [], { nodeArgs = [], files = 0, label = file } = {}) {
  const { soft, hard } = fileLimits();
  let child;
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (files > soft && hard > soft) {
    const limit = Math.min(hard, Math.max(files, 65536));
    const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;
    const cmd = `ulimit -n ${limit === Infinity ? 'unlimited' : limit} && exec ${[process.execPath, ...nodeArgs, file, ...args].map(quote).join(' ')}`;
    child = spawn('sh', ['-c', cmd], { stdio });
  } else {
    child = spawn(process.execPath, [...nodeArgs, file, ...args], { stdio });
  }
  live.add(child);
  // A send racing the child's exit fails with EPIPE, reported here: the exit handler below
  // settles anything still waiting.
  child.on('error', () => {});
  const waiting = new Map();
  let exited = false;
  child.on('message', (msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      clearTimeout(w.timer);
      w.resolve(msg);
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    live.delete(child);
    for (const [type, w] of waiting) {
      clearTimeout(w.timer);
      w.reject(new Error(`${label} exited (${signal ?? code}) while waiting for ${type}`));
    }
    waiting.clear();
  });
  const expect = (type, timeoutMs) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${label} has exited`));
      const timer = setTimeout(() => {
        waiting.delete(type);
        reject(new Error(`${label}: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(type, { resolve, reject, timer });
    });
  return {
    child,
    pid: child.pid,
    expect,
    /** Sends a command and waits for the reply of type `reply`. */
    ask(msg, reply, timeoutMs = 30_000) {
      const p = expect(reply, timeoutMs);
      if (!exited) child.send(msg, (error) => error && kill(child));
      return p;
    },
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      try {
        child.send({ cmd: 'exit' }, () => {});
      } catch {}
      const t = setTimeout(() => kill(child), 2000);
      await gone;
      clearTimeout(t);
    },
  };
}

function kill(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}

/** Kills every child still alive (each by its own handle). */
export function killAll() {
  for (const child of live) kill(child);
  live.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
