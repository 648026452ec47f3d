/**
 * One ioredis connection as this package uses it: who owns it, whether it is ready, and
 * bounded waits. Clients we create get settings that make failures fast and explicit.
 */
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './errors.js';

/** A command client: one server, or a Cluster (commands routed by key slot). */
export type RedisClient = Redis | Cluster;

/**
 * Settings forced on every connection this package creates (from options, and the subscriber
 * connections): a command issued while disconnected fails at once instead of waiting in an
 * offline queue, and a command in flight when the connection drops fails instead of being
 * sent again after reconnecting (a resent XADD could store an event whose broadcast already
 * reported failure).
 */
export const FAIL_FAST: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  // ioredis arms this timer on every disconnect, even of a socket that is already closed (as
  // during an outage), and nothing clears it then: at its 2 s default, close() would leave the
  // process running for 2 s. We only disconnect after QUIT, or to abort a blocked read.
  disconnectTimeout: 100,
});

/** A value that can be used as a client (duck-typed, so two copies of ioredis still work). */
export function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' && value !== null &&
    typeof (value as Redis).duplicate === 'function' &&
    typeof (value as Redis).xadd === 'function' &&
    typeof (value as Redis).on === 'function'
  );
}

/** True for an ioredis `Cluster` (duck-typed like {@link isRedisClient}). */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/** Settles like `promise`, or rejects with `error()` if it is still pending after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An ioredis client plus whether we must close it, and its readiness history. */
export class Link {
  readonly client: RedisClient;
  /** True when this package created the client, and so closes it. */
  readonly owned: boolean;
  private everReady: boolean;
  private closing = false;
  /** Pending {@link Link.nextReady} calls, released by `close()`/`abort()` too. */
  private readonly waiters = new Set<() => void>();
  private readonly onReady = (): void => {
    this.everReady = true;
  };

  constructor(client: RedisClient, owned: boolean, onError?: (error: Error) => void) {
    this.client = client;
    this.owned = owned;
    this.everReady = client.status === 'ready';
    client.on('ready', this.onReady);
    // Without a listener ioredis prints every reconnection failure; ours go to `onError`.
    if (owned) client.on('error', onError ?? noop);
    // A lazy client connects on its first command; ours checks readiness first, so connect now.
    if (client.status === 'wait') client.connect().catch(noop);
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * Resolves when the client can take a command now. Before its first connection it waits (up
   * to `timeoutMs`) so an app may broadcast right after start-up; once it has been connected,
   * being disconnected is an outage and rejects at once.
   * @throws {RedisUnavailableError} with `stored: false`.
   */
  async whenReady(timeoutMs: number, what: string): Promise<void> {
    if (this.ready) return;
    const unavailable = (): RedisUnavailableError =>
      new RedisUnavailableError(`Redis is not connected (status: ${this.client.status}); ${what} was not sent`, false);
    if (this.everReady || this.closing || this.client.status === 'end') throw unavailable();
    await withTimeout(this.nextReady(), timeoutMs, unavailable);
    if (!this.ready) throw unavailable();
  }

  /** Resolves on the next `ready` or `end` event, or when the link is closed. */
  nextReady(): Promise<void> {
    if (this.ready || this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.client.off('ready', done);
        this.client.off('end', done);
        this.waiters.delete(done);
        resolve();
      };
      this.client.on('ready', done);
      this.client.on('end', done);
      this.waiters.add(done);
    });
  }

  /** Marks the link closing and releases everyone waiting for it to be ready. */
  private release(): void {
    this.closing = true;
    for (const done of [...this.waiters]) done();
  }

  /**
   * Releases the client if we own it: `QUIT` when connected (pending replies arrive first),
   * otherwise (or if QUIT hangs) a hard disconnect. A client we do not own is left open.
   */
  async close(timeoutMs: number): Promise<void> {
    this.release();
    this.client.off('ready', this.onReady);
    if (!this.owned) return;
    const client = this.client;
    if (client.status === 'ready') {
      try {
        await withTimeout(client.quit(), timeoutMs, () => new Error('QUIT timed out'));
      } catch {
        // Fall through to a hard disconnect.
      }
    }
    // Waiting between reconnection attempts there is no socket, and no `end` event will come:
    // disconnecting cancels the pending attempt, which is all there is to release.
    const hasSocket = client.status === 'connecting' || client.status === 'connect' || client.status === 'ready';
    const ended = hasSocket ? new Promise<void>((resolve) => client.once('end', () => resolve())) : undefined;
    if (client.status !== 'end') client.disconnect();
    if (ended) await withTimeout(ended, timeoutMs, () => new Error('disconnect timed out')).catch(noop);
  }

}

/** Creates a client we own from options, with the fail-fast settings. */
export function createClient(options: RedisOptions, name: string): Redis {
  return new Redis({ connectionName: name, ...options, ...FAIL_FAST });
}

export function noop(): void {}
