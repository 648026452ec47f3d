/**
 * One supervisor for child processes: benchmark servers and clients, stress servers and
 * scenarios, and the apps the tests run as a user would. A child can be asked things over IPC
 * (every message lands in an inbox until someone takes it, so a reply that comes early is not
 * lost), its output can be captured and searched, and every child is killed when this process
 * exits, whatever happened.
 */
import { execFileSync, spawn } from 'node:child_process';

/** @typedef {{ type: string, [key: string]: unknown }} Message */
/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} Exit */

/**
 * @typedef {object} StartOptions
 * @property {string} [executable] the runtime that runs the script, e.g. a Bun or Deno binary
 *   (default: this Node.js, `process.execPath`)
 * @property {string[]} [nodeArgs] flags for the runtime itself, before the script (default none;
 *   for Deno, `run` and its permission flags)
 * @property {number | 'max'} [files] open files the child needs: above the soft limit, it is
 *   started through `sh -c 'ulimit -n …; exec node …'` (which keeps the IPC channel); `'max'`
 *   asks for the hard limit (default 0: the inherited limit)
 * @property {string} [label] name used in error messages (default: the script)
 * @property {boolean} [ipc] open an IPC channel (default true)
 * @property {'inherit' | 'capture' | 'ignore'} [output] stdout and stderr: shared with this
 *   process, recorded (see {@link Child.output}), or dropped (default `'inherit'`)
 * @property {boolean} [stdin] give the child a writable stdin (default false)
 * @property {NodeJS.ProcessEnv} [env] environment (default: this process's)
 * @property {string} [cwd] working directory (default: this process's)
 */

/**
 * @typedef {object} StopOptions
 * @property {object | null} [message] IPC message asking the child to leave (default
 *   `{ cmd: 'exit' }` when there is an IPC channel); `null` sends none
 * @property {NodeJS.Signals | null} [signal] signal sent when no message was (default
 *   `'SIGTERM'`); `null` sends none and only waits
 * @property {number} [graceMs] how long to wait for the exit before SIGKILL (default 2000)
 */

/**
 * @typedef {object} Child
 * @property {import('node:child_process').ChildProcess} child
 * @property {number | undefined} pid
 * @property {string} label
 * @property {Promise<Exit>} exited resolves when the process has exited
 * @property {boolean} alive true until the process exits
 * @property {() => string} output stdout and stderr so far, when captured
 * @property {(pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>} waitForOutput
 *   resolves with the first match of `pattern` in the captured output; rejects when the child
 *   exits first or after `timeoutMs` (default 10 s)
 * @property {(type: string, timeoutMs?: number) => Promise<Message>} next the next IPC message
 *   of `type` not yet taken; rejects after `timeoutMs` (default 30 s) or when the child exits
 * @property {(message: object, reply: string, timeoutMs?: number) => Promise<Message>} ask sends
 *   `message` and resolves with the next message of type `reply`
 * @property {(message: object) => void} send sends without waiting (a failed send kills the child)
 * @property {(options?: StopOptions) => Promise<Exit & { forced: boolean }>} stop asks the child
 *   to leave, waits, kills it after the grace period (`forced`)
 * @property {() => void} kill SIGKILL, now
 */

const live = new Set();
let exitHook = false;

/** Soft and hard limits on open files, as the shell reports them. */
export function fileLimits() {
  try {
    const read = (flag) => execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    const n = (v) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: n(read('-Sn')), hard: n(read('-Hn')) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/** The `ulimit -n` value to start a child with, or undefined to inherit. */
function raisedLimit(files) {
  if (!files) return undefined;
  const { soft, hard } = fileLimits();
  if (!(hard > soft)) return undefined;
  if (files === 'max') return hard;
  if (!(files > soft)) return undefined;
  return Math.min(hard, Math.max(files, 65536));
}

const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

function kill(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Kills every child still alive (each by its own handle). */
export function killAll() {
  for (const child of live) kill(child);
  live.clear();
}

/**
 * Kills every child and exits on SIGINT and SIGTERM. For the command-line programs (bench,
 * stress); a plain process exit kills the children without it.
 */
export function killAllOnSignals() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/**
 * Starts `node <file> <args>`.
 * @param {string} file
 * @param {readonly string[]} [args]
 * @param {StartOptions} [options]
 * @returns {Child}
 */
export function start(file, args = [], options = {}) {
  const { executable = process.execPath, nodeArgs = [], files = 0, label = file, ipc = true, output = 'inherit', stdin = false, env, cwd } = options;
  if (!exitHook) {
    exitHook = true;
    process.once('exit', killAll);
  }
  const out = output === 'capture' ? 'pipe' : output;
  const stdio = [stdin ? 'pipe' : 'ignore', out, out, ...(ipc ? ['ipc'] : [])];
  const argv = [...nodeArgs, file, ...args];
  const limit = raisedLimit(files);
  const child =
    limit === undefined
      ? spawn(executable, argv, { stdio, env, cwd })
      : spawn('sh', ['-c', `ulimit -n ${limit === Infinity ? 'unlimited' : limit} && exec ${[executable, ...argv].map(quote).join(' ')}`], { stdio, env, cwd });
  live.add(child);
  // A send racing the child's exit fails with EPIPE, reported here: the exit handler below
  // settles anything still waiting.
  child.on('error', () => {});

  let captured = '';
  const outputWaiters = new Set();
  if (output === 'capture') {
    const onData = (chunk) => {
      captured += chunk.toString('utf8');
      for (const wake of [...outputWaiters]) wake();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  }

  /** @type {Message[]} */
  const inbox = [];
  /** @type {{ type: string, resolve: (m: Message) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }[]} */
  const waiters = [];
  let exitInfo;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`${label} exited (${signal ?? code}) while waiting for ${w.type}`));
      }
      resolve(exitInfo);
    });
  });
  // The output is complete once the child's stdio has closed, which can be after its exit.
  let outputDone = false;
  child.once('close', () => {
    outputDone = true;
    for (const wake of [...outputWaiters]) wake();
  });
  child.on('message', (message) => {
    const i = waiters.findIndex((w) => w.type === message?.type);
    if (i === -1) {
      inbox.push(message);
      return;
    }
    const [w] = waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(message);
  });

  const next = (type, timeoutMs = 30_000) => {
    const i = inbox.findIndex((m) => m?.type === type);
    if (i !== -1) return Promise.resolve(inbox.splice(i, 1)[0]);
    if (exitInfo) return Promise.reject(new Error(`${label} has exited (${exitInfo.signal ?? exitInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`${label}: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  const send = (message) => {
    if (!exitInfo && child.connected) child.send(message, (error) => error && kill(child));
  };

  /** @type {Child} */
  const handle = {
    child,
    pid: child.pid,
    label,
    exited,
    get alive() {
      return exitInfo === undefined;
    },
    output: () => captured,
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(captured);
          if (match) finish(() => resolve(match));
          else if (outputDone) finish(() => reject(new Error(`${label} exited (${exitInfo?.signal ?? exitInfo?.code}) before printing ${pattern}. Output:\n${captured}`)));
        };
        const finish = (settle) => {
          clearTimeout(timer);
          outputWaiters.delete(check);
          settle();
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${label} printed no ${pattern} within ${timeoutMs} ms. Output:\n${captured}`))), timeoutMs);
        outputWaiters.add(check);
        check();
      });
    },
    next,
    ask(message, reply, timeoutMs = 30_000) {
      const answer = next(reply, timeoutMs);
      send(message);
      return answer;
    },
    send,
    async stop({ message = ipc ? { cmd: 'exit' } : null, signal = 'SIGTERM', graceMs = 2000 } = {}) {
      if (exitInfo) return { ...exitInfo, forced: false };
      if (message !== null && child.connected) {
        try {
          child.send(message, () => {});
        } catch {
          // The channel closed meanwhile: the grace period below still applies.
        }
      } else if (signal !== null) {
        child.kill(signal);
      }
      let timer;
      const late = new Promise((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first !== 'late') return { ...first, forced: false };
      kill(child);
      return { ...(await exited), forced: true };
    },
    kill: () => kill(child),
  };
  return handle;
}
