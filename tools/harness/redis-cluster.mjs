/**
 * A private Redis Cluster: six `redis-server --cluster-enabled yes` (three primaries, three
 * replicas) on free loopback ports in one temporary directory, joined with `redis-cli --cluster
 * create`, no persistence; ready once every node reports `cluster_state:ok` and every replica
 * has synced. Nodes can be killed (like a crash), frozen and thawed, to provoke a failover.
 * Built from the single-server launcher's parts (`freePort`, `spawnRedis`, `command`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command, freePort, spawnRedis, waitForPing } from './redis-server.mjs';

/** The client binary: `$REDIS_CLI`, else `/usr/bin/redis-cli`. */
export const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';

/** `cluster-node-timeout`: a silent primary is failed over about this long after it went away. */
export const NODE_TIMEOUT_MS = 1000;

const run = promisify(execFile);

/** Every node started by this process, killed when it exits whatever happened. */
const live = new Set();
let exitHook = false;
function killOnExit(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Resolves once `check()` is true, polling every 100 ms; rejects after `timeoutMs`. */
async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The hash slot of a key (CRC16/XMODEM of its hash tag, modulo 16384), as Redis Cluster computes it.
 * @param {string} key
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#key-distribution-model
 */
export function keySlot(key) {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** A running six-node cluster. */
export class RedisCluster {
  /**
   * @param {readonly number[]} ports
   * @param {string} dir
   */
  constructor(ports, dir) {
    this.ports = ports;
    this.dir = dir;
    /** @type {Map<number, ReturnType<typeof spawnRedis>>} */
    this.nodes = new Map();
  }

  /**
   * Starts six nodes, creates the cluster (one replica per primary) and waits until it is ok.
   * @template {RedisCluster} T
   * @this {new (ports: readonly number[], dir: string) => T}
   * @returns {Promise<T>}
   */
  static async start() {
    let ports;
    // The cluster bus listens on port + 10000: keep it in range.
    do ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    while (ports.some((p) => p + 10000 > 65535) || new Set(ports).size !== 6);
    const cluster = new this(ports, mkdtempSync(join(tmpdir(), 'ssekit-cluster-')));
    try {
      await Promise.all(ports.map((port) => cluster.startNode(port)));
      await run(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitUntilOk();
      await cluster.waitForReplicas();
      return cluster;
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
  }

  /** @param {number} port */
  async startNode(port) {
    const node = spawnRedis(port, this.dir, [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
      // Replicas sync at once (no diskless delay) and may always take over: a test kills a
      // primary seconds after the cluster was created.
      '--repl-diskless-sync-delay', '0',
      '--cluster-replica-validity-factor', '0',
    ]);
    this.nodes.set(port, node);
    killOnExit(node.child);
    try {
      await waitForPing(port, 10_000, node.exited);
    } catch (error) {
      throw new Error(`${error.message}:\n${node.output()}`);
    }
  }

  /** Ports of the nodes still running. */
  get running() {
    return this.ports.filter((port) => this.nodes.has(port));
  }

  /**
   * Runs one redis-cli command on a node; its output as text.
   * @param {number} port
   * @param {...string} args
   */
  async cli(port, ...args) {
    const { stdout } = await run(REDIS_CLI, ['-p', String(port), ...args], { timeout: 5000 });
    return stdout.trim();
  }

  /**
   * Waits until every running node reports `cluster_state:ok` and they agree on a running
   * primary for `key`'s slot.
   */
  async waitUntilOk(key = 'any', timeoutMs = 30_000) {
    await until(async () => {
      const owners = new Set();
      for (const port of this.running) {
        if (!/cluster_state:ok/.test(await command(port, ['CLUSTER', 'INFO'], 2000))) return false;
        owners.add(await this.primaryOf(key, port));
      }
      return owners.size === 1 && this.running.includes([...owners][0]);
    }, timeoutMs, 'the cluster to be ok');
  }

  /** Waits until every replica's link to its primary is up (it has the primary's data). */
  async waitForReplicas(timeoutMs = 30_000) {
    await until(async () => {
      for (const port of this.running) {
        const info = await command(port, ['INFO', 'replication'], 2000);
        if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
      }
      return true;
    }, timeoutMs, 'the replicas to sync');
  }

  /**
   * The port of the primary that owns `key`'s slot, as the node on `port` sees it.
   * @param {string} key
   * @param {number} [port] any running node
   */
  async primaryOf(key, port = this.running[0]) {
    const slot = keySlot(key);
    for (const line of (await this.cli(port, 'CLUSTER', 'NODES')).split('\n')) {
      const [, address, flags, , , , , state, ...ranges] = line.split(' ');
      if (!address || !flags?.includes('master') || flags.includes('fail') || state !== 'connected') continue;
      for (const range of ranges) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from && slot <= to) return Number(/:(\d+)@/.exec(address)[1]);
      }
    }
    throw new Error(`no primary owns slot ${slot}`);
  }

  /**
   * The port of a replica of the primary on `primary`.
   * @param {number} primary
   */
  async replicaOf(primary) {
    const lines = (await this.cli(primary, 'CLUSTER', 'NODES')).split('\n');
    const id = lines.find((line) => line.includes('myself')).split(' ')[0];
    const replica = lines.find((line) => line.split(' ')[3] === id && line.includes('slave'));
    if (!replica) throw new Error(`no replica of ${primary}`);
    return Number(/:(\d+)@/.exec(replica.split(' ')[1])[1]);
  }

  /**
   * Freezes a node (SIGSTOP): it keeps its sockets but answers nothing.
   * @param {number} port
   */
  pause(port) {
    this.nodes.get(port)?.child.kill('SIGSTOP');
  }

  /**
   * Lets a frozen node run again (SIGCONT).
   * @param {number} port
   */
  resume(port) {
    this.nodes.get(port)?.child.kill('SIGCONT');
  }

  /**
   * Kills a node (SIGKILL, like a crash) and waits for it to exit.
   * @param {number} port
   */
  async kill(port) {
    const node = this.nodes.get(port);
    if (!node) return;
    this.nodes.delete(port);
    node.child.kill('SIGCONT');
    node.child.kill('SIGKILL');
    await node.exited;
  }

  /** Kills every node and removes the directory. */
  async dispose() {
    await Promise.all([...this.nodes.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
