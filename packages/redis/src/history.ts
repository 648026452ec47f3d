/**
 * A namespace's history in Redis: publishing into the per-topic streams, and reading them back
 * for a replay or for an instance's catch-up. The part {@link RedisBroadcaster} and
 * {@link RedisReplayer} share.
 */
import { RedisUnavailableError } from './errors.js';
import { EntryCache, decodePage, type StreamEntry } from './entry.js';
import type { NamespaceKeys } from './keys.js';
import { isCluster, withTimeout, type Link, type RedisClient } from './link.js';
import { CATCH_UP, PUBLISH, READ, Script } from './scripts.js';
import type { RedisOperation } from './redis-metrics.js';
import { compareStreamIds } from './stream-id.js';

/** Validated settings of a namespace's history. */
export interface HistorySettings {
  /** Entries kept per stream (per topic, and for untargeted broadcasts). */
  readonly maxLen: number;
  /** Entries a stream may hold beyond `maxLen` before it is trimmed back (0: exact). */
  readonly slack: number;
  /** A stream expires this long after its newest event, in milliseconds. */
  readonly ttlMs: number;
  /** Bound on each command's answer, in milliseconds. */
  readonly timeoutMs: number;
  /** Entries fetched per script call when reading. */
  readonly batchSize: number;
}

/** A stream to read, and up to which id (`+`: the newest). */
export interface ReadRange {
  readonly key: string;
  readonly to: string;
}

/** A stream to catch up, from the id after which the instance has everything. */
export interface CatchUpRange {
  readonly key: string;
  readonly from: string;
}

/** What a catch-up found: per stream (in the order asked) `lost` or its entries. */
export interface CatchUpResult {
  /** The history restarted after ids the instance knew of (Redis lost data). */
  readonly restart: boolean;
  /** The namespace clock when the catch-up started. */
  readonly clock: string;
  /** The newest id known to be lost in a restart (`0-0`: none). */
  readonly lost: string;
  readonly streams: readonly (StreamEntry[] | 'lost')[];
}

/** Streams one catch-up script call reads at most. */
const KEYS_PER_CALL = 256;

/** A read that would have returned more than the caller allows. */
export const TOO_MANY = 'too-many';

const publishScript = new Script(PUBLISH);
const readScript = new Script(READ);
const catchUpScript = new Script(CATCH_UP);

/** Read and write access to one namespace's keys over a command connection. */
export class History {
  readonly link: Link;
  readonly keys: NamespaceKeys;
  readonly settings: HistorySettings;
  private readonly publishArgs: readonly string[];
  private readonly cache: EntryCache;
  /** Script calls and entries returned by reads, for figures and tests. */
  readonly counters = { publishes: 0, reads: 0, entriesRead: 0 };
  /** Counts a publish or a replay read that failed; absent: nothing is counted. */
  private readonly onFailure: ((operation: Extract<RedisOperation, 'publish' | 'replay'>) => void) | undefined;

  constructor(link: Link, keys: NamespaceKeys, settings: HistorySettings, onFailure?: (operation: Extract<RedisOperation, 'publish' | 'replay'>) => void) {
    this.link = link;
    this.keys = keys;
    this.settings = settings;
    this.onFailure = onFailure;
    this.publishArgs = [String(settings.maxLen), String(settings.slack), String(settings.ttlMs)];
    this.cache = new EntryCache(10_000);
  }

  get client(): RedisClient {
    return this.link.client;
  }

  /** Counts a failed publish or replay read of this history's owner (no-op without metrics). */
  failed(operation: Extract<RedisOperation, 'publish' | 'replay'>): void {
    this.onFailure?.(operation);
  }

  /**
   * Stores an encoded event for `topic` (untargeted: `undefined`) and, with `announce`, sends
   * it to the subscribers of its channel; resolves with its id.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  async publish(topic: string | undefined, body: string, announce: boolean): Promise<string> {
    const { timeoutMs } = this.settings;
    await this.link.whenReady(timeoutMs, 'the event');
    this.counters.publishes++;
    let id: unknown;
    try {
      id = await withTimeout(
        publishScript.run(this.client, [this.keys.meta, this.keys.stream(topic)], [body, ...this.publishArgs, announce ? '1' : '0']),
        timeoutMs,
        () => new RedisUnavailableError(`Redis did not answer the publish within ${timeoutMs} ms; the event may have been stored`, 'unknown'),
      );
    } catch (error) {
      throw publishError(error);
    }
    if (typeof id !== 'string') throw new RedisUnavailableError('Redis returned no id for the event', false);
    return id;
  }

  /** The namespace clock (the newest id issued), `0-0` when there is none. */
  async clock(): Promise<string> {
    const clock = await this.command(() => this.client.hget(this.keys.meta, 'clock'), 'HGET');
    return typeof clock === 'string' ? clock : '0-0';
  }

  /**
   * Reads every entry after `after` of the given streams, each up to its `to`, merged in id
   * order: `undefined` on a gap (see the READ script), {@link TOO_MANY} when there are more
   * than `limit`. Pages of `batchSize` entries; a stream trimmed between pages is a gap.
   */
  async read(after: string, ranges: readonly ReadRange[], limit: number): Promise<StreamEntry[] | undefined | typeof TOO_MANY> {
    const keys = [this.keys.meta, ...ranges.map((r) => r.key)];
    let pending = ranges.map((range, index) => ({ index, key: range.key, from: after, to: range.to }));
    const found: StreamEntry[][] = ranges.map(() => []);
    let total = 0;
    let first = true;
    while (pending.length > 0) {
      const capacity = Math.min(this.settings.batchSize, limit + 1 - total);
      const args: string[] = [after, String(capacity), String(this.settings.ttlMs), first ? '1' : '0'];
      for (const p of pending) args.push(p.from, p.to);
      const pageKeys = first ? keys : [this.keys.meta, ...pending.map((p) => p.key)];
      const reply = (await this.command(() => readScript.run(this.client, pageKeys, args), 'replay read')) as unknown[];
      this.counters.reads++;
      if (reply[0] !== 'ok') return undefined;
      const clock = reply[1] as string;
      const next: typeof pending = [];
      for (let i = 0; i < pending.length; i++) {
        const p = pending[i]!;
        const status = reply[2 + 2 * i];
        const { entries, last } = decodePage(reply[3 + 2 * i], this.cache);
        total += entries.length;
        this.counters.entriesRead += entries.length;
        found[p.index]!.push(...entries);
        if (status === 'more' || status === 'skip') next.push({ ...p, from: last ?? p.from, to: p.to === '+' ? clock : p.to });
      }
      if (total > limit) return TOO_MANY;
      pending = next;
      first = false;
    }
    return mergeById(found);
  }

  /**
   * Reads what an instance missed while its subscription was down, from each stream's `from` up
   * to the clock when the read began (see the CATCH_UP script), so that it is one cut. `known` is the newest id the instance knows of;
   * `expired` says whether the break lasted long enough for events to expire. Over `limit`
   * entries, the streams not finished are reported lost (their clients replay on their own).
   */
  async catchUp(known: string, ranges: readonly CatchUpRange[], expired: boolean, limit: number): Promise<CatchUpResult> {
    let pending = ranges.map((range, index) => ({ index, key: range.key, from: range.from }));
    const streams: (StreamEntry[] | 'lost')[] = ranges.map(() => []);
    let total = 0;
    let result: { restart: boolean; clock: string; lost: string } | undefined;
    do {
      const capacity = Math.min(this.settings.batchSize, limit - total);
      if (capacity <= 0 && result !== undefined) {
        for (const p of pending) streams[p.index] = 'lost';
        break;
      }
      // At most KEYS_PER_CALL streams per script call, so one call stays short for Redis; every
      // call after the first reads up to the first one's clock, so it is still one cut.
      const batch = pending.slice(0, KEYS_PER_CALL);
      const args: string[] = [known, String(Math.max(0, capacity)), expired ? '1' : '0', result?.clock ?? '+', ...batch.map((p) => p.from)];
      const keys = [this.keys.meta, this.keys.untargeted, ...batch.map((p) => p.key)];
      const reply = (await this.command(() => catchUpScript.run(this.client, keys, args), 'catch-up read')) as unknown[];
      this.counters.reads++;
      result ??= { restart: reply[0] === 'restart', clock: reply[1] as string, lost: reply[2] as string };
      const next: typeof pending = [];
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!;
        const status = reply[3 + 2 * i];
        if (status === 'lost') {
          streams[p.index] = 'lost';
          continue;
        }
        const { entries, last } = decodePage(reply[4 + 2 * i], this.cache);
        total += entries.length;
        this.counters.entriesRead += entries.length;
        (streams[p.index] as StreamEntry[]).push(...entries);
        if (status === 'more' || status === 'skip') next.push({ ...p, from: last ?? p.from });
      }
      pending = [...next, ...pending.slice(KEYS_PER_CALL)];
    } while (pending.length > 0);
    return { ...result!, streams };
  }

  /** Every topic stream of the namespace (`SCAN`; on a Cluster, on each primary). */
  async topicStreams(): Promise<string[]> {
    const pattern = this.keys.topicPattern();
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    const found = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.command(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000), 'SCAN');
        for (const key of keys) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...found];
  }

  /** One bounded command; failures become {@link RedisUnavailableError}. */
  async command<T>(run: () => Promise<T>, what: string): Promise<T> {
    const { timeoutMs } = this.settings;
    await this.link.whenReady(timeoutMs, what);
    try {
      return await withTimeout(run(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      throw new RedisUnavailableError(`Redis ${what} failed: ${messageOf(error)}`, false, { cause: error });
    }
  }
}

/** Merges per-stream lists (each in id order) into one list in id order. */
export function mergeById(lists: readonly StreamEntry[][]): StreamEntry[] {
  const nonEmpty = lists.filter((list) => list.length > 0);
  if (nonEmpty.length === 0) return [];
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  // A client has a few topics: take the smallest head each time (k lists, k small).
  const heads = nonEmpty.map(() => 0);
  const total = nonEmpty.reduce((n, list) => n + list.length, 0);
  const out = new Array<StreamEntry>(total);
  for (let n = 0; n < total; n++) {
    let best = -1;
    for (let k = 0; k < nonEmpty.length; k++) {
      const entry = nonEmpty[k]![heads[k]!];
      if (entry !== undefined && (best === -1 || compareStreamIds(entry.id, nonEmpty[best]![heads[best]!]!.id) < 0)) best = k;
    }
    out[n] = nonEmpty[best]![heads[best]!++]!;
  }
  return out;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Says whether a failed publish may have been stored. A Redis error reply, or a command refused
 * before it was written to the socket, was not; a dropped connection or a timeout leaves it
 * unknown.
 */
function publishError(error: unknown): RedisUnavailableError {
  if (error instanceof RedisUnavailableError) return error;
  const message = messageOf(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'ReplyError') {
    return new RedisUnavailableError(`Redis refused the event: ${message}`, false, { cause: error });
  }
  if (message.includes('enableOfflineQueue')) {
    return new RedisUnavailableError(`Redis is not connected; the event was not sent (${message})`, false, { cause: error });
  }
  return new RedisUnavailableError(`Redis connection lost while storing the event; it may have been stored (${message})`, 'unknown', { cause: error });
}
