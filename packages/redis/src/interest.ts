/**
 * What one instance receives from Redis, and from where it has it: the channels of the topics
 * its connections subscribe to (plus untargeted broadcasts), each with a position.
 *
 * A feed's position is the id up to which every local subscriber of the feed has every event
 * of it: live announcements move it forward (an announcement at or before it is a duplicate
 * and is dropped), a replay sends a new connection what it missed up to it (later events reach
 * the connection live), and after the subscription broke, the catch-up reads each feed's
 * stream after it. A new feed starts at the namespace clock read after its `SSUBSCRIBE` was
 * confirmed: everything after that is announced to it, everything up to it is in the stream.
 *
 * A feed whose last local subscriber left is unsubscribed after `lingerMs`, so a reconnecting
 * client does not make the instance unsubscribe and subscribe again.
 */
import { performance } from 'node:perf_hooks';
import type { Connection } from '@ssekit/core';
import type { Registry } from '@ssekit/core/integration';
import { announcedId, lossNotice, type StreamEntry } from './entry.js';
import type { History } from './history.js';
import { withTimeout, noop } from './link.js';
import { compareStreamIds, maxStreamId, ZERO_ID } from './stream-id.js';
import { Subscriber, type SubscriberOptions } from './subscriber.js';

/** One channel this instance receives. */
interface Feed {
  /** The topic; `undefined` for untargeted broadcasts. */
  readonly topic: string | undefined;
  /** The stream key, which is also the channel. */
  readonly key: string;
  /** Every local subscriber has every event of the feed up to this id; `undefined`: not known yet. */
  position: string | undefined;
  /** Set while the feed is being subscribed and positioned. */
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

/** The channels an instance receives, their positions, and the catch-up after a break. */
export class Interest {
  private readonly options: InterestOptions;
  private readonly feeds = new Map<string, Feed>();
  private readonly untargeted: Feed;
  private readonly subscriber: Subscriber;
  private readonly sweeper: NodeJS.Timeout;
  /** The newest id received through the subscription (announcements and catch-ups). */
  private received = ZERO_ID;
  /** The newest id this instance knows was issued (received, published, or a clock read). */
  private known = ZERO_ID;
  /** Resolves once untargeted broadcasts are received and delivery is live. */
  readonly started: Promise<void>;
  readonly counters: InterestCounters = { received: 0, caughtUp: 0, catchUps: 0, closedForLoss: 0, restarts: 0 };

  constructor(options: InterestOptions) {
    this.options = options;
    const { history } = options;
    this.subscriber = new Subscriber({
      open: options.open,
      delay: options.delay,
      pingMs: options.pingMs,
      timeoutMs: history.settings.timeoutMs,
      onMessage: this.onMessage,
      onSubscribed: () => this.catchUp(),
      onBreak: noop,
      onError: options.onError,
    });
    this.untargeted = this.feed(undefined, history.keys.untargeted);
    this.started = this.position(this.untargeted).then(() => this.subscriber.whenLive());
    // A rejected start is reported by whoever awaits it (ready(), a broadcast).
    this.started.catch(noop);
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.floor(options.lingerMs / 2)));
    this.sweeper.unref();
  }

  /** Channels subscribed now (untargeted included). */
  get channelCount(): number {
    return this.subscriber.channelCount;
  }

  /** Subscriber connections opened and breaks seen. */
  get subscriberCounters(): Readonly<{ connections: number; breaks: number; pings: number }> {
    return this.subscriber.counters;
  }

  /**
   * Makes sure this instance receives `topic`. Returns `undefined` when it already does, or a
   * promise that resolves once the subscription is confirmed and the feed positioned.
   */
  watch(topic: string): Promise<void> | undefined {
    const key = this.options.history.keys.topic(topic);
    const feed = this.feeds.get(key) ?? this.feed(topic, key);
    feed.idleSince = undefined;
    if (feed.position !== undefined && feed.ready === undefined) return undefined;
    return this.position(feed);
  }

  /** Where a replay of `topic` (untargeted: `undefined`) should stop: the feed's position, or `+`. */
  end(topic: string | undefined): string {
    const feed = topic === undefined ? this.untargeted : this.feeds.get(this.options.history.keys.topic(topic));
    return feed?.position ?? '+';
  }

  /** Records an id this instance published. */
  published(id: string): void {
    if (compareStreamIds(id, this.known) > 0) this.known = id;
  }

  /**
   * Resolves once every announcement published before the call has reached this instance's
   * connections (at once when it already delivered an id at or after `after`).
   */
  caughtUpTo(after: string, timeoutMs: number): Promise<void> | undefined {
    if (this.subscriber.live && compareStreamIds(this.received, after) >= 0) return undefined;
    return withTimeout(this.subscriber.barrier(), timeoutMs, () => new Error('barrier timed out')).catch(noop);
  }

  /** Stops receiving and closes the subscriber connection. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.subscriber.stop();
  }

  private feed(topic: string | undefined, key: string): Feed {
    const feed: Feed = { topic, key, position: undefined, ready: undefined, idleSince: undefined };
    this.feeds.set(key, feed);
    return feed;
  }

  private position(feed: Feed): Promise<void> {
    feed.ready ??= (async () => {
      try {
        await this.subscriber.add(feed.key);
        const clock = await this.options.history.clock();
        this.learn(clock);
        feed.position = feed.position === undefined ? clock : maxStreamId(feed.position, clock);
      } finally {
        feed.ready = undefined;
      }
    })();
    return feed.ready;
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
    if (feed.position !== undefined && compareStreamIds(id, feed.position) <= 0) return;
    feed.position = id;
    if (compareStreamIds(id, this.received) > 0) {
      this.received = id;
      if (compareStreamIds(id, this.known) > 0) this.known = id;
    }
    this.options.local.deliver(payload, id, feed.topic);
  };

  /**
   * After the subscription was (re)established: checks the history against what this instance
   * knows, delivers what each feed missed, and closes the local streams whose events are gone.
   */
  private async catchUp(): Promise<void> {
    const { history } = this.options;
    // Feeds subscribed before the read below may start at its clock; a feed whose SSUBSCRIBE is
    // still on its way positions itself once it is confirmed.
    const feeds = [...this.feeds.values()].filter((f) => f.position !== undefined || this.subscriber.isSubscribed(f.key));
    const positioned = feeds.filter((f) => f.position !== undefined);
    if (positioned.length === 0 && this.known === ZERO_ID) return;
    this.counters.catchUps++;
    const ttlMs = history.settings.ttlMs;
    // Events announced during the break expire ttlMs after they were published, which was after
    // the last moment the connection proved it had delivered everything.
    const away = performance.now() - this.subscriber.lastLiveContact;
    const expired = away >= ttlMs - Math.min(1000, ttlMs / 10);
    const result = await history.catchUp(this.known, positioned.map((f) => ({ key: f.key, from: f.position! })), expired, this.options.maxCatchUp);
    const clock = result.clock;
    this.learn(clock);
    if (result.restart) {
      this.counters.restarts++;
      // The history restarted: ids before it resume as gaps. Streams open here lost something
      // only if events were handed out after the last one this instance received.
      this.noticeLoss(result.lost);
    }
    const lost: Feed[] = [];
    const lists: { feed: Feed; entries: StreamEntry[] }[] = [];
    positioned.forEach((feed, i) => {
      const found = result.streams[i]!;
      if (found === 'lost') lost.push(feed);
      else if (found.length > 0) lists.push({ feed, entries: found });
    });
    for (const feed of feeds) {
      // Not positioned yet: it starts after everything the catch-up saw.
      if (feed.position === undefined) feed.position = clock;
    }
    if (lost.length > 0) {
      const closed = this.closeAll(lost.includes(this.untargeted) ? undefined : lost);
      for (const feed of lost) feed.position = maxStreamId(feed.position!, clock);
      this.options.onError(new Error(`events were trimmed or expired before this instance could deliver them (its Redis subscription was down); closed ${closed} local stream(s) of ${lost.length} topic(s) so clients resume and learn of the gap`));
    }
    this.deliver(lists);
  }

  /**
   * Events up to `lost` were handed out and Redis lost them: if this instance had not received
   * all of them, its streams may lack some, so they are closed and their clients resume (and
   * learn of the gap).
   */
  private noticeLoss(lost: string | undefined): void {
    if (lost === undefined || compareStreamIds(lost, this.received) <= 0) return;
    this.received = lost;
    this.learn(lost);
    const closed = this.closeAll(undefined);
    this.options.onError(new Error(`Redis lost events up to ${lost} that this instance had not delivered (a restart without them, or a failover to a replica behind); closed ${closed} local stream(s) so clients resume and learn of the gap`));
  }

  /** Delivers caught-up entries of several feeds in id order. */
  private deliver(lists: { feed: Feed; entries: StreamEntry[] }[]): void {
    const all: { feed: Feed; entry: StreamEntry }[] = [];
    for (const { feed, entries } of lists) for (const entry of entries) all.push({ feed, entry });
    if (lists.length > 1) all.sort((a, b) => compareStreamIds(a.entry.id, b.entry.id));
    for (const { feed, entry } of all) {
      if (compareStreamIds(entry.id, feed.position!) <= 0) continue;
      feed.position = entry.id;
      if (compareStreamIds(entry.id, this.received) > 0) this.received = entry.id;
      this.learn(entry.id);
      this.counters.caughtUp++;
      this.options.local.deliver(entry.bytes, entry.id, feed.topic);
    }
  }

  /** Closes the local connections of `feeds` (every connection with `undefined`); returns how many. */
  private closeAll(feeds: Feed[] | undefined): number {
    const { local } = this.options;
    const targets = new Set<Connection>();
    if (feeds === undefined) {
      const count = local.connectionCount();
      local.close();
      this.counters.closedForLoss += count;
      return count;
    }
    for (const feed of feeds) for (const connection of local.subscribersOf(feed.topic!)) targets.add(connection);
    for (const connection of targets) connection.close();
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
