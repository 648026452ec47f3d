/**
 * A private redis-server per test file (see the harness's launcher): a free loopback port, no
 * persistence, its own temporary directory, disposed by the cleanup registry. Adds what tests
 * ask of it: an ioredis client and the names of the connected clients.
 */
import { Redis } from 'ioredis';
import { RedisServer as Launcher, type RedisServerOptions } from '@ssekit/harness/redis-server';
import { track } from './cleanup';

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
