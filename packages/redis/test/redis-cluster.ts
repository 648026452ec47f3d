/**
 * A private Redis Cluster for tests: six `redis-server --cluster-enabled yes` (three primaries,
 * three replicas) on free loopback ports in one temp directory, joined with `redis-cli
 * --cluster create`, no persistence. A node can be killed (like a crash) and the cluster waited
 * for until a replica took over. `dispose()` kills every node and removes the directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { REDIS_SERVER, killOnExit } from './redis-server';

const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';
const run = promisify(execFile);

/** `cluster-node-timeout`: how long a silent primary takes to be failed over (plus election). */
export const NODE_TIMEOUT_MS = 1000;

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => resolve(probe));
    })),
  );
  // The cluster bus listens on port + 10000: keep both in range and distinct.
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A running six-node cluster. */
export class RedisCluster {
  private readonly processes = new Map<number, ChildProcess>();

  private constructor(
    readonly ports: readonly number[],
    private readonly dir: string,
  ) {}

  /** Starts six nodes, creates the cluster and waits until every node reports `cluster_state:ok`. */
  static async start(): Promise<RedisCluster> {
    let ports: number[];
    do ports = await freePorts(6);
    while (ports.some((p) => p + 10000 > 65535));
    const cluster = new RedisCluster(ports, mkdtempSync(join(tmpdir(), 'ssekit-cluster-')));
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

  private async startNode(port: number): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      [
        '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', this.dir,
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--save', '', '--appendonly', 'no',
        // Replicas sync at once (no diskless delay) and may always take over: a test kills a
        // primary seconds after the cluster was created.
        '--repl-diskless-sync-delay', '0', '--cluster-replica-validity-factor', '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.processes.set(port, child);
    killOnExit(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server ${port} did not start:\n${out}`)), 10_000);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server ${port} exited with ${code}:\n${out}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
  }

  /** Ports of the nodes still running. */
  get running(): number[] {
    return this.ports.filter((port) => this.processes.has(port));
  }

  /** Waits until every running node reports `cluster_state:ok` and agrees on who owns `key`. */
  async waitUntilOk(key = 'any', timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      const owners = new Set<number>();
      for (const port of this.running) {
        const info = await this.command(port, 'CLUSTER', 'INFO');
        if (!/cluster_state:ok/.test(info)) return false;
        owners.add(await this.primaryOf(key, port));
      }
      return owners.size === 1 && this.running.includes([...owners][0]!);
    }, timeoutMs, 'the cluster to be ok');
  }

  /** Waits until every replica's link to its primary is up (it has the primary's data). */
  async waitForReplicas(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      for (const port of this.running) {
        const info = await this.command(port, 'INFO', 'replication');
        if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
      }
      return true;
    }, timeoutMs, 'the replicas to sync');
  }

  /** The port of the primary that owns `key`'s slot, as `port` (any running node) sees it. */
  async primaryOf(key: string, port = this.running[0]!): Promise<number> {
    const slot = Number(await this.command(port, 'CLUSTER', 'KEYSLOT', key));
    const text = await this.command(port, 'CLUSTER', 'NODES');
    for (const line of text.split('\n')) {
      const [, address, flags, , , , , state, ...ranges] = line.split(' ');
      if (!address || !flags?.includes('master') || flags.includes('fail') || state !== 'connected') continue;
      for (const range of ranges) {
        const [from, to = from] = range.split('-').map(Number) as [number, number?];
        if (slot >= from && slot <= to!) return Number(/:(\d+)@/.exec(address)![1]);
      }
    }
    throw new Error(`no primary owns slot ${slot}`);
  }

  /** Runs one redis-cli command on a node; its output as text. */
  async command(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run(REDIS_CLI, ['-p', String(port), ...args], { timeout: 5000 });
    return stdout.trim();
  }

  /** An ioredis Cluster client on this cluster (close it). */
  client(options: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
    return new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })), options);
  }

  /** A plain client on one node (close it). */
  node(port: number): Redis {
    return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  }

  /** The port of a replica of the primary on `primary`. */
  async replicaOf(primary: number): Promise<number> {
    const lines = (await this.command(primary, 'CLUSTER', 'NODES')).split('\n');
    const id = lines.find((line) => line.includes('myself'))!.split(' ')[0]!;
    const replica = lines.find((line) => line.split(' ')[3] === id && line.includes('slave'));
    if (!replica) throw new Error(`no replica of ${primary}`);
    return Number(/:(\d+)@/.exec(replica.split(' ')[1]!)![1]);
  }

  /** Freezes a node (SIGSTOP): it keeps its sockets but answers nothing, replicates nothing. */
  pause(port: number): void {
    this.processes.get(port)?.kill('SIGSTOP');
  }

  /** Lets a frozen node run again (SIGCONT). */
  resume(port: number): void {
    this.processes.get(port)?.kill('SIGCONT');
  }

  /** Kills a node (SIGKILL, like a crash) and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const child = this.processes.get(port);
    if (!child) return;
    this.processes.delete(port);
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Kills every node and removes the directory. */
  async dispose(): Promise<void> {
    for (const port of this.processes.keys()) this.resume(port);
    await Promise.all([...this.processes.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
