/**
 * A private redis-server per test file (see the harness's launcher): a free loopback port, no
 * persistence, its own temporary directory, disposed by the cleanup registry. Adds what tests
 * ask of it: an ioredis client, the names of the connected clients, and dropping one of them.
 */
import { Redis } from 'ioredis';
import { RedisServer as Launcher, type RedisServerOptions } from '@ssekit/harness/redis-server';
import { track } from './cleanup';

/**
 * Drops the connection named `name` (`CLIENT KILL ID`), asking through `admin` (any node's
 * client); throws when no connection has that name.
 */
export async function killClientNamed(admin: Redis, name: string): Promise<void> {
  const list = (await admin.client('LIST')) as string;
  const line = list.split('\n').find((entry) => entry.startsWith(`name=${name} `) || entry.includes(` name=${name} `));
  const id = /(?:^| )id=(\d+)/.exec(line ?? '')?.[1];
  if (id === undefined) throw new Error(`no Redis connection named ${name}`);
  await admin.call('CLIENT', 'KILL', 'ID', id);
}

export class RedisServer extends Launcher {
  /** Starts a server on a free loopback port; it is disposed after the test (or the file). */
  static override async start<T extends Launcher>(this: new (port: number, dir: string, options?: RedisServerOptions) => T, options?: RedisServerOptions): Promise<T> {
    const server = await (Launcher.start as (this: unknown, options?: RedisServerOptions) => Promise<T>).call(this, options);
    track(() => server.dispose());
    return server;
  }

  /** A client for test assertions (the test closes it). */
  client(): Redis {
    return new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  /** Drops the connection named `name`; see {@link killClientNamed}. */
  async killClient(name: string): Promise<void> {
    const admin = this.client();
    try {
      await killClientNamed(admin, name);
    } finally {
      admin.disconnect();
    }
  }

  /** Names of the connected clients (`CLIENT LIST`), the asking client excluded. */
  async clientNames(): Promise<string[]> {
    const admin = new Redis({ host: '127.0.0.1', port: this.port, connectionName: 'test-admin' });
    try {
      const list = (await admin.client('LIST')) as string;
      return list
        .split('\n')
        .filter(Boolean)
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
        .filter((name) => name !== 'test-admin');
    } finally {
      admin.disconnect();
    }
  }
}
