/**
 * What one instance receives from Redis, and up to where: the channels of the topics its
 * connections subscribe to (plus untargeted broadcasts), and one position for all of them.
 *
 * The position is the id up to which every local connection has every event of its topics:
 * whatever is published after it reaches them live, whatever is at or before it is in the
 * streams. All channels come over one connection, in publish order (which is id order), so an
 * announcement moves the position for every channel at once, and a barrier (the namespace clock
 * read on that connection, answered after every announcement published before it) moves it to
 * that clock. A replay sends a new connection its topics' events up to the position, in id
 * order, and live events follow, so a client's events stay in id order across its topics (one
 * `Last-Event-ID` resumes all of them). After the subscription broke, the catch-up reads every
 * channel's stream from the position, up to one clock, and delivers that in id order too.
 *
 * A new channel is subscribed, then a barrier moves the position past everything published
 * before the subscription: from then on its events arrive live, and those before are in its
 * stream. A channel whose last local subscriber left is unsubscribed after `lingerMs`, so a
 * reconnecting client does not make the instance unsubscribe and subscribe again.
 */
import { performance } from 'node:perf_hooks';
import type { Connection } from '@ssekit/core';
import type { Registry } from '@ssekit/core/integration';
import { announcedId, lossNotice, type StreamEntry } from './entry.js';
import type { RedisReaderState } from './health.js';
import type { History } from './history.js';
import { withTimeout, noop } from './link.js';
import type { RedisMetrics } from './redis-metrics.js';
import { compareStreamIds, ZERO_ID } from './stream-id.js';
import { Subscriber, type SubscriberOptions } from './subscriber.js';

/** One channel this instance receives. */
interface Feed {
  /** The topic; `undefined` for untargeted broadcasts. */
  readonly topic: string | undefined;
  /** The stream key, which is also the channel. */
  readonly key: string;
  /** True once subscribed and the position moved past everything published before. */
  covered: boolean;
  /** Set while the feed is being subscribed. */
  ready: Promise<void> | undefined;
  /** Since when (performance.now()) the feed has had no local subscriber. */
  idleSince: number | undefined;
}

/** What {@link Interest} needs. */
export interface InterestOptions {
  readonly history: History;
  /** The instance's connections. */
  readonly local: Registry;
  /** Opens subscriber connections (see {@link SubscriberOptions.open}). */
  readonly open: SubscriberOptions['open'];
  /** See {@link SubscriberOptions.delay}. */
  readonly delay: SubscriberOptions['delay'];
  readonly pingMs: number;
  readonly lingerMs: number;
  /** Most entries one catch-up delivers; past it, the streams not caught up are treated as lost. */
  readonly maxCatchUp: number;
  readonly onError: (error: Error) => void;
  /** Where the reader's lag, failures and catch-ups are recorded; absent: nowhere, at no cost. */
  readonly metrics?: RedisMetrics | undefined;
}

/** Counters for figures and tests. */
export interface InterestCounters {
  /** Announcements received (duplicates included). */
  received: number;
  /** Entries delivered by catch-ups. */
  caughtUp: number;
  /** Catch-ups run after a broken subscription. */
  catchUps: number;
  /** Local connections closed because events they should have had are gone. */
  closedForLoss: number;
  /** Catch-ups that found the history restarted (Redis lost data). */
  restarts: number;
}

/** The channels an instance receives, the position they are delivered up to, and the catch-up. */
export class Interest {
  /**
   * Told, after each event delivered to local connections (live or caught up), how many it
   * wrote: the handlers' `ssekit.events.*` counters. Unset until a handler with metrics asks.
   */
  onDelivered: ((written: number) => void) | undefined;
  private readonly options: InterestOptions;
  private readonly feeds = new Map<string, Feed>();
  private readonly untargeted: Feed;
  private readonly subscriber: Subscriber;
  private readonly sweeper: NodeJS.Timeout;
  /** Every local connection has every event of its topics up to this id; `undefined` before start. */
  private position: string | undefined;
  /** The newest id this instance knows was issued (delivered, published, or a clock read). */
  private known = ZERO_ID;
  private readonly metrics: RedisMetrics | undefined;
  /** Resolves once untargeted broadcasts are received and delivery is live. */
  readonly started: Promise<void>;
  readonly counters: InterestCounters = { received: 0, caughtUp: 0, catchUps: 0, closedForLoss: 0, restarts: 0 };

  constructor(options: InterestOptions) {
    this.options = options;
    this.metrics = options.metrics;
    const { history } = options;
    const meta = history.keys.meta;
    this.subscriber = new Subscriber({
      open: options.open,
      delay: options.delay,
      pingMs: options.pingMs,
      timeoutMs: history.settings.timeoutMs,
      onMessage: this.onMessage,
      onSubscribed: () => this.catchUp(),
      onBreak: noop,
      fence: async (conn) => {
        const clock = await conn.hget(meta, 'clock');
        return typeof clock === 'string' ? clock : ZERO_ID;
      },
      onError: options.onError,
      ...(options.metrics && { onFailure: options.metrics.failed }),
    });
    this.untargeted = this.feed(undefined, history.keys.untargeted);
    this.started = this.cover(this.untargeted);
    // A rejected start is reported by whoever awaits it (ready(), a broadcast).
    this.started.catch(noop);
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.floor(options.lingerMs / 2)));
    this.sweeper.unref();
  }

  /** Channels subscribed now (untargeted included). */
  get channelCount(): number {
    return this.subscriber.channelCount;
  }

  /** What the reader is doing now (no round trip: the subscriber connection's own state). */
  get readerState(): RedisReaderState {
    return this.subscriber.readerState;
  }

  /** Subscriber connections opened and breaks seen. */
  get subscriberCounters(): Readonly<{ connections: number; breaks: number; pings: number }> {
    return this.subscriber.counters;
  }

  /**
   * Makes sure this instance receives `topic`. Returns `undefined` when it already does, or a
   * promise that resolves once the subscription is confirmed and the position past it.
   */
  watch(topic: string): Promise<void> | undefined {
    const key = this.options.history.keys.topic(topic);
    const feed = this.feeds.get(key) ?? this.feed(topic, key);
    feed.idleSince = undefined;
    if (feed.covered && feed.ready === undefined) return undefined;
    return this.cover(feed);
  }

  /**
   * Where a replay of `topic` (untargeted: `undefined`) should stop: the position, when this
   * instance receives the topic (later events reach its connections live), else `+`.
   */
  end(topic: string | undefined): string {
    const feed = topic === undefined ? this.untargeted : this.feeds.get(this.options.history.keys.topic(topic));
    return feed?.covered && this.position !== undefined ? this.position : '+';
  }

  /** Records an id this instance published. */
  published(id: string): void {
    this.learn(id);
  }

  /**
   * Resolves once every announcement published before the call has reached this instance's
   * connections (at once when the position is at or after `after` already).
   */
  caughtUpTo(after: string, timeoutMs: number): Promise<void> | undefined {
    if (this.subscriber.live && this.position !== undefined && compareStreamIds(this.position, after) >= 0) return undefined;
    return withTimeout(this.barrier(), timeoutMs, () => new Error('barrier timed out')).catch(noop);
  }

  /** Stops receiving and closes the subscriber connection. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.subscriber.stop();
  }

  private feed(topic: string | undefined, key: string): Feed {
    const feed: Feed = { topic, key, covered: false, ready: undefined, idleSince: undefined };
    this.feeds.set(key, feed);
    return feed;
  }

  /** Subscribes the feed, then moves the position past everything published before. */
  private cover(feed: Feed): Promise<void> {
    feed.ready ??= (async () => {
      try {
        await this.subscriber.add(feed.key);
        await this.barrier();
        feed.covered = true;
      } finally {
        feed.ready = undefined;
      }
    })();
    return feed.ready;
  }

  /** A barrier on the subscriber connection; moves the position to the clock it read. */
  private async barrier(): Promise<void> {
    const clock = await this.subscriber.barrier();
    if (clock === undefined) throw new Error('the subscriber stopped');
    this.advance(clock);
  }

  private advance(id: string): void {
    if (this.position === undefined || compareStreamIds(id, this.position) > 0) this.position = id;
    this.learn(id);
  }

  private learn(id: string): void {
    if (compareStreamIds(id, this.known) > 0) this.known = id;
  }

  private readonly onMessage = (channel: string, payload: Buffer): void => {
    this.counters.received++;
    const feed = this.feeds.get(channel);
    if (feed === undefined) return;
    const id = announcedId(payload);
    if (id === undefined) {
      if (feed === this.untargeted) this.noticeLoss(lossNotice(payload));
      return;
    }
    // At or before the position: a catch-up (or a barrier's clock) covered it already.
    if (this.position !== undefined && compareStreamIds(id, this.position) <= 0) return;
    this.position = id;
    if (compareStreamIds(id, this.known) > 0) this.known = id;
    this.deliverLocal(payload, id, feed.topic);
  };

  /**
   * After the subscription was (re)established: checks the history against what this instance
   * knows, delivers what every channel missed since the position (up to one clock, in id
   * order), and closes the local streams whose events are gone.
   */
  private async catchUp(): Promise<void> {
    const { history } = this.options;
    const from = this.position;
    if (from === undefined) return;
    this.counters.catchUps++;
    const feeds = [...this.feeds.values()];
    const ttlMs = history.settings.ttlMs;
    // Events announced during the break expire ttlMs after they were published, which was after
    // the last moment the connection proved it had delivered everything.
    const away = performance.now() - this.subscriber.lastLiveContact;
    const expired = away >= ttlMs - Math.min(1000, ttlMs / 10);
    const result = await history.catchUp(this.known, feeds.map((f) => ({ key: f.key, from })), expired, this.options.maxCatchUp);
    let gap = false;
    if (result.restart) {
      this.counters.restarts++;
      // The history restarted: ids before it resume as gaps. Streams open here lost something
      // only if events were handed out after the last one this instance delivered.
      gap = this.noticeLoss(result.lost);
    }
    const lost: Feed[] = [];
    const lists: { feed: Feed; entries: StreamEntry[] }[] = [];
    feeds.forEach((feed, i) => {
      const found = result.streams[i]!;
      if (found === 'lost') lost.push(feed);
      else if (found.length > 0) lists.push({ feed, entries: found });
    });
    if (lost.length > 0) {
      const closed = this.closeAll(lost.includes(this.untargeted) ? undefined : lost);
      this.options.onError(new Error(`events were trimmed or expired before this instance could deliver them (its Redis subscription was down); closed ${closed} local stream(s) of ${lost.length} topic(s) so clients resume and learn of the gap`));
    }
    this.deliver(lists);
    // Everything up to the clock the catch-up read at is delivered now; what came after is in
    // the buffer, which follows.
    this.advance(result.clock);
    this.metrics?.caughtUp(gap || lost.length > 0);
  }

  /**
   * Events up to `lost` were handed out and Redis lost them: if this instance had not delivered
   * all of them, its streams may lack some, so they are closed and their clients resume (and
   * learn of the gap).
   */
  private noticeLoss(lost: string | undefined): boolean {
    if (lost === undefined || this.position === undefined || compareStreamIds(lost, this.position) <= 0) return false;
    this.advance(lost);
    const closed = this.closeAll(undefined);
    this.options.onError(new Error(`Redis lost events up to ${lost} that this instance had not delivered (a restart without them, or a failover to a replica behind); closed ${closed} local stream(s) so clients resume and learn of the gap`));
    return true;
  }

  /** Delivers caught-up entries of several feeds in id order. */
  private deliver(lists: { feed: Feed; entries: StreamEntry[] }[]): void {
    const all: { feed: Feed; entry: StreamEntry }[] = [];
    for (const { feed, entries } of lists) for (const entry of entries) all.push({ feed, entry });
    if (lists.length > 1) all.sort((a, b) => compareStreamIds(a.entry.id, b.entry.id));
    for (const { feed, entry } of all) {
      if (this.position !== undefined && compareStreamIds(entry.id, this.position) <= 0) continue;
      this.advance(entry.id);
      this.counters.caughtUp++;
      this.deliverLocal(entry.bytes, entry.id, feed.topic);
    }
  }

  /** Writes one event to this instance's connections, and records it (lag, delivery counts). */
  private deliverLocal(bytes: Uint8Array, id: string, topic: string | undefined): void {
    const written = this.options.local.deliver(bytes, id, topic);
    this.metrics?.delivered(id);
    this.onDelivered?.(written);
  }

  /** Closes the local connections of `feeds` (every connection with `undefined`); returns how many. */
  private closeAll(feeds: Feed[] | undefined): number {
    const { local } = this.options;
    if (feeds === undefined) {
      const count = local.connectionCount();
      local.close();
      this.counters.closedForLoss += count;
      return count;
    }
    const targets = new Set<Connection>();
    for (const feed of feeds) for (const connection of local.subscribersOf(feed.topic!)) targets.add(connection);
    for (const connection of targets) void connection.close();
    this.counters.closedForLoss += targets.size;
    return targets.size;
  }

  /** Unsubscribes feeds that have had no local subscriber for `lingerMs`. */
  private sweep(): void {
    const now = performance.now();
    const { local, lingerMs } = this.options;
    for (const feed of this.feeds.values()) {
      if (feed.topic === undefined || feed.ready !== undefined) continue;
      if (local.topicCount(feed.topic) > 0) {
        feed.idleSince = undefined;
      } else if (feed.idleSince === undefined) {
        feed.idleSince = now;
      } else if (now - feed.idleSince >= lingerMs) {
        this.feeds.delete(feed.key);
        this.subscriber.remove(feed.key);
      }
    }
  }
}
