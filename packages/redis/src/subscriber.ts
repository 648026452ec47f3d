/**
 * The one pub/sub connection of an instance: shard channels (`SSUBSCRIBE`) of the streams its
 * connections want, on the primary that holds the namespace.
 *
 * It owns its reconnection, so that every break is seen: after a break it opens a new
 * connection (on a Cluster: following `MOVED` to the slot's new primary), subscribes every
 * wanted channel again, and hands over to `onSubscribed` (the catch-up) while it buffers what
 * arrives; delivery goes live once that resolves. Channels are added and removed in batches,
 * one command at a time, so what is subscribed is always known. A `PING` every `pingMs` finds
 * connections that died without closing. A barrier (a command on the connection itself, answered
 * after every announcement before it) tells when everything published so far has arrived.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { noop, withTimeout } from './link.js';
import type { RedisReaderState } from './health.js';
import type { RedisOperation } from './redis-metrics.js';

/** Where a connection goes. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/** What the subscriber needs from its owner. */
export interface SubscriberOptions {
  /** Creates a connection (not connected yet) to `target`, or to where the next attempt goes. */
  readonly open: (target: NodeAddress | undefined) => Redis;
  /** Milliseconds to wait before connection attempt `attempt` (1, 2, ...) after a failure. */
  readonly delay: (attempt: number) => number;
  /** How often a live connection is checked with `PING`, in milliseconds. */
  readonly pingMs: number;
  /** Bound on connecting, subscribing and each `PING`, in milliseconds. */
  readonly timeoutMs: number;
  /** One announcement, in order, once delivery is live. */
  readonly onMessage: (channel: string, payload: Buffer) => void;
  /**
   * Called when every wanted channel is subscribed on a new connection. Delivery goes live
   * (buffered messages first) once it resolves; a rejection drops the connection.
   */
  readonly onSubscribed: () => Promise<void>;
  /** Called when a connection whose channels were subscribed is lost. */
  readonly onBreak: () => void;
  /**
   * The command of {@link Subscriber.barrier}, run on the subscriber connection itself (it is
   * RESP3, so it takes commands while subscribed): its answer comes after every announcement
   * published before it. It reads the namespace clock.
   */
  readonly fence: (conn: Redis) => Promise<string>;
  readonly onError: (error: Error) => void;
  /**
   * Counts a failure, once per incident: `connection` (could not connect, or lost a connection
   * whose channels were subscribed), `subscribe` (SSUBSCRIBE or SUNSUBSCRIBE), `catchup`
   * (`onSubscribed` rejected). Absent: nothing is counted.
   */
  readonly onFailure?: (operation: Exclude<RedisOperation, 'publish' | 'replay'>) => void;
}

type State = 'down' | 'syncing' | 'live' | 'stopped';

/** Channels per SSUBSCRIBE: keeps one command (and its reply) small. */
const CHUNK = 500;
/** Default waits between connection attempts, in milliseconds. */
const BACKOFF_MS = [0, 50, 100, 250, 500, 1000] as const;

/** The default {@link SubscriberOptions.delay}: at once, then backing off up to a second. */
export function defaultDelay(attempt: number): number {
  return BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)]!;
}

/** The pub/sub connection of an instance. */
export class Subscriber {
  private readonly options: SubscriberOptions;
  private state: State = 'down';
  private conn: Redis | undefined;
  private readonly wanted = new Set<string>();
  private readonly subscribed = new Set<string>();
  /** Channels to subscribe or unsubscribe with the next batch (checked against `wanted` then). */
  private readonly joining = new Set<string>();
  private readonly leaving = new Set<string>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private buffer: [string, Buffer][] = [];
  private liveWaiters: (() => void)[] = [];
  private barrierWaiters: ((clock: string | undefined) => void)[] | undefined;
  private changing = false;
  private dirty = false;
  private lastContact = performance.now();
  private contactWhileLive = performance.now();
  private readonly timer: NodeJS.Timeout;
  private readonly done: Promise<void>;
  private wake: (() => void) | undefined;
  /** The last connection whose failure was counted, so its break is not counted again. */
  private counted: Redis | undefined;
  /** Connections opened and breaks seen, for figures and tests. */
  readonly counters = { connections: 0, breaks: 0, pings: 0 };

  constructor(options: SubscriberOptions) {
    this.options = options;
    this.timer = setInterval(() => this.keepAlive(), Math.max(10, Math.floor(options.pingMs / 2)));
    this.timer.unref();
    this.done = this.loop();
  }

  /** True once {@link Subscriber.stop} was called (a getter, so checks after an await re-read it). */
  private get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** See {@link RedisReaderState}. */
  get readerState(): RedisReaderState {
    return this.state === 'live' ? 'running' : this.state === 'stopped' ? 'stopped' : 'starting';
  }

  /** True while announcements go straight to delivery. */
  get live(): boolean {
    return this.state === 'live';
  }

  /** When the connection last proved it had delivered everything (`performance.now()`). */
  get lastLiveContact(): number {
    return this.contactWhileLive;
  }

  /** Channels subscribed on the current connection. */
  get channelCount(): number {
    return this.subscribed.size;
  }

  /** True when `channel` is subscribed on the current connection. */
  isSubscribed(channel: string): boolean {
    return this.subscribed.has(channel);
  }

  /** Resolves once `channel` is subscribed on a connection (at once when it already is). */
  add(channel: string): Promise<void> {
    this.wanted.add(channel);
    if (this.subscribed.has(channel)) return Promise.resolve();
    this.joining.add(channel);
    this.change();
    return new Promise((resolve) => {
      const list = this.waiters.get(channel);
      if (list) list.push(resolve);
      else this.waiters.set(channel, [resolve]);
    });
  }

  /** Stops wanting `channel`; it is unsubscribed with the next batch. */
  remove(channel: string): void {
    if (!this.wanted.delete(channel)) return;
    this.release(channel);
    // Not counted as subscribed from now on: an add() before the unsubscribe is answered must
    // wait for a new SSUBSCRIBE (sent after it), not trust a subscription on its way out.
    if (this.subscribed.delete(channel)) {
      this.leaving.add(channel);
      this.change();
    }
  }

  /** Resolves once delivery is live (at once when it is). */
  whenLive(): Promise<void> {
    if (this.state === 'live' || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.liveWaiters.push(resolve));
  }

  /**
   * Resolves once every announcement published before this call has been delivered, with the
   * namespace clock read right after them: the fence command, sent after the call on a live
   * connection, whose answer comes after them (one connection, in order). Calls made before the
   * command goes out share it. `undefined` once stopped.
   */
  barrier(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    if (this.barrierWaiters) return new Promise((resolve) => this.barrierWaiters!.push(resolve));
    const waiters: ((clock: string | undefined) => void)[] = [];
    this.barrierWaiters = waiters;
    const promise = new Promise<string | undefined>((resolve) => waiters.push(resolve));
    process.nextTick(() => void this.runBarrier(waiters));
    return promise;
  }

  /** Stops: closes the connection and releases everyone waiting. */
  async stop(): Promise<void> {
    if (this.stopped) return this.done;
    this.state = 'stopped';
    clearInterval(this.timer);
    this.wake?.();
    this.conn?.disconnect();
    this.releaseAll();
    await this.done;
  }

  private async runBarrier(waiters: ((clock: string | undefined) => void)[]): Promise<void> {
    let clock: string | undefined;
    for (;;) {
      await this.whenLive();
      if (this.stopped) break;
      const conn = this.conn!;
      // Later calls need a fence sent after them.
      if (this.barrierWaiters === waiters) this.barrierWaiters = undefined;
      try {
        const answer = await withTimeout(this.options.fence(conn), this.options.timeoutMs, () => new Error('the fence timed out'));
        if (this.state === 'live' && this.conn === conn) {
          clock = answer;
          break;
        }
      } catch {
        // The connection broke: once it is back (and caught up), fence again.
      }
    }
    for (const resolve of waiters) resolve(clock);
  }

  private change(): void {
    this.dirty = true;
    if (this.changing || !this.conn || this.state === 'down') return;
    this.changing = true;
    setImmediate(() => void this.applyChanges());
  }

  /** Sends the pending subscribe/unsubscribe batches, one command at a time. */
  private async applyChanges(): Promise<void> {
    const conn = this.conn;
    try {
      while (this.dirty && conn && this.conn === conn && this.state !== 'down' && !this.stopped) {
        this.dirty = false;
        // A channel wanted again before its unsubscribe went out stays subscribed (the SSUBSCRIBE
        // below confirms it again); one wanted again after is subscribed again after it.
        const leave = [...this.leaving].filter((c) => !this.wanted.has(c));
        this.leaving.clear();
        for (let i = 0; i < leave.length; i += CHUNK) {
          const chunk = leave.slice(i, i + CHUNK);
          await withTimeout(conn.sunsubscribe(...chunk), this.options.timeoutMs, () => new Error('SUNSUBSCRIBE timed out'));
        }
        const join = [...this.joining].filter((c) => this.wanted.has(c) && !this.subscribed.has(c));
        this.joining.clear();
        for (let i = 0; i < join.length; i += CHUNK) {
          const chunk = join.slice(i, i + CHUNK);
          await withTimeout(conn.ssubscribe(...chunk), this.options.timeoutMs, () => new Error('SSUBSCRIBE timed out'));
          this.touch();
          for (const channel of chunk) this.confirm(channel);
        }
      }
    } catch (error) {
      // A failed (un)subscribe leaves the connection in an unknown state: start over on a new
      // one, which subscribes everything wanted.
      if (this.conn === conn && !this.stopped) {
        this.options.onError(asError(error));
        this.fail(conn, 'subscribe');
        conn?.disconnect();
      }
    } finally {
      this.changing = false;
      if (this.dirty && this.conn && this.state !== 'down') this.change();
    }
  }

  private confirm(channel: string): void {
    this.subscribed.add(channel);
    this.release(channel);
  }

  private release(channel: string): void {
    const list = this.waiters.get(channel);
    if (!list) return;
    this.waiters.delete(channel);
    for (const resolve of list) resolve();
  }

  private releaseAll(): void {
    for (const channel of [...this.waiters.keys()]) this.release(channel);
    const live = this.liveWaiters;
    this.liveWaiters = [];
    for (const resolve of live) resolve();
    const barrier = this.barrierWaiters;
    this.barrierWaiters = undefined;
    for (const resolve of barrier ?? []) resolve(undefined);
  }

  private touch(): void {
    this.lastContact = performance.now();
    if (this.state === 'live') this.contactWhileLive = this.lastContact;
  }

  private keepAlive(): void {
    const conn = this.conn;
    if (this.state !== 'live' || !conn || performance.now() - this.lastContact < this.options.pingMs) return;
    this.counters.pings++;
    withTimeout(conn.ping(), this.options.timeoutMs, () => new Error(`the subscriber connection did not answer PING within ${this.options.timeoutMs} ms; reconnecting`)).then(
      () => this.touch(),
      (error: unknown) => {
        if (this.conn !== conn || this.stopped) return;
        this.options.onError(asError(error));
        conn.disconnect();
      },
    );
  }

  private readonly onMessage = (channel: Buffer, payload: Buffer): void => {
    this.touch();
    if (this.state === 'live') this.options.onMessage(channel.toString(), payload);
    else if (this.state === 'syncing') this.buffer.push([channel.toString(), payload]);
  };

  private async loop(): Promise<void> {
    let target: NodeAddress | undefined;
    let failures = 0;
    while (!this.stopped) {
      let conn: Redis;
      try {
        conn = this.options.open(target);
      } catch (error) {
        this.options.onError(asError(error));
        // Before any attempt (a Cluster client still learning its nodes) it is start-up, not a failure.
        if (this.counters.connections > 0) this.options.onFailure?.('connection');
        await this.sleep(this.options.delay(++failures));
        continue;
      }
      target = undefined;
      let subscribed = false;
      let phase: 'connection' | 'subscribe' | 'catchup' = 'connection';
      const closed = new Promise<void>((resolve) =>
        conn.once('close', () => {
          if (this.conn === conn) this.conn = undefined;
          resolve();
        }),
      );
      conn.on('error', noop);
      conn.on('smessageBuffer', this.onMessage);
      // An unsolicited SUNSUBSCRIBE: the slot moved (failover, resharding). Start over.
      conn.on('moved', () => conn.disconnect());
      try {
        this.counters.connections++;
        await withTimeout(conn.connect(), this.options.timeoutMs, () => new Error('connecting timed out'));
        if (this.stopped) break;
        this.conn = conn;
        this.subscribed.clear();
        this.joining.clear();
        this.leaving.clear();
        this.buffer = [];
        this.state = 'syncing';
        phase = 'subscribe';
        const all = [...this.wanted];
        if (this.conn !== conn) throw new Error('the subscriber connection closed');
        for (let i = 0; i < all.length; i += CHUNK) {
          await withTimeout(conn.ssubscribe(...all.slice(i, i + CHUNK)), this.options.timeoutMs, () => new Error('SSUBSCRIBE timed out'));
        }
        this.touch();
        subscribed = true;
        for (const channel of all) {
          if (this.wanted.has(channel)) this.confirm(channel);
        }
        phase = 'catchup';
        await this.options.onSubscribed();
        if (this.conn !== conn || (this.state as State) !== 'syncing') throw new Error('the subscriber connection closed during catch-up');
        // What arrived during the catch-up, in order, then straight delivery.
        for (let i = 0; i < this.buffer.length; i++) {
          const [channel, payload] = this.buffer[i]!;
          this.options.onMessage(channel, payload);
        }
        this.buffer = [];
        this.state = 'live';
        this.contactWhileLive = performance.now();
        failures = 0;
        const live = this.liveWaiters;
        this.liveWaiters = [];
        for (const resolve of live) resolve();
        this.change();
        await closed;
      } catch (error) {
        const moved = movedTarget(error);
        // Following a MOVED is routing, not a failure.
        if (moved) {
          target = moved;
          this.counted = conn;
        } else if (!this.stopped) {
          this.options.onError(asError(error));
          // A connection that closed under a step is counted as lost (below), not as the step.
          if (phase === 'connection' || this.conn === conn) this.fail(conn, phase);
        }
      } finally {
        if (this.conn === conn) this.conn = undefined;
        if (!this.stopped) this.state = 'down';
        this.buffer = [];
        this.subscribed.clear();
        conn.off('smessageBuffer', this.onMessage);
        conn.disconnect();
        if (subscribed && !this.stopped) {
          this.counters.breaks++;
          this.options.onError(new Error('the subscriber connection was lost; reconnecting, then catching up from the last event delivered'));
          this.options.onBreak();
        }
        // Every end but a stop is a lost connection, unless a step's failure was counted.
        if (!this.stopped) this.fail(conn, 'connection');
      }
      if (this.stopped) break;
      if (target === undefined) await this.sleep(this.options.delay(++failures));
    }
  }

  /** Counts one failure of `conn`; later ones of the same connection are the same incident. */
  private fail(conn: Redis | undefined, operation: Exclude<RedisOperation, 'publish' | 'replay'>): void {
    if (this.options.onFailure === undefined || conn === undefined || this.counted === conn) return;
    this.counted = conn;
    this.options.onFailure(operation);
  }

  private sleep(ms: number): Promise<void> {
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The node a `MOVED <slot> <host>:<port>` error points to. */
export function movedTarget(error: unknown): NodeAddress | undefined {
  const match = error instanceof Error ? /^MOVED \d+ (.+):(\d+)$/.exec(error.message) : null;
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
