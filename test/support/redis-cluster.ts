/**
 * A private Redis Cluster per test file (see the harness's launcher: six nodes, three
 * primaries with a replica each, on free loopback ports), disposed by the cleanup registry.
 * Adds what tests ask of it: an ioredis `Cluster` client and plain clients on one node.
 */
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { RedisCluster as Launcher } from '@ssekit/harness/redis-cluster';
import { track } from './cleanup';

export { NODE_TIMEOUT_MS, keySlot } from '@ssekit/harness/redis-cluster';

export class RedisCluster extends Launcher {
  /** Starts a cluster; it is disposed after the test (or the file). */
  static override async start<T extends Launcher>(this: new (ports: readonly number[], dir: string) => T): Promise<T> {
    const cluster = await (Launcher.start as (this: unknown) => Promise<T>).call(this);
    track(() => cluster.dispose());
    return cluster;
  }

  /** An ioredis Cluster client on every node (the test closes it). */
  client(options: ClusterOptions = {}): Cluster {
    return new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })), options);
  }

  /** A plain client on one node (the test closes it). */
  node(port: number): Redis {
    return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  }
}
