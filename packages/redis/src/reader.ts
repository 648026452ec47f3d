/**
 * The one blocking `XREAD` loop per instance that turns the shared stream into local delivery.
 *
 * It reads from its own connection (a blocked connection cannot serve other commands), keeps
 * the id of the last entry it delivered (its position) and resumes from there after any error:
 * nothing is skipped. When Redis comes back without the data it had (a restart with
 * persistence off), the position may be ahead of everything in the new stream; the reader then
 * starts over at the beginning of the new stream instead of waiting for ids to catch up.
 */
import { decodeRange, xreadEntries, type StreamEntry } from './entry.js';
import { withTimeout, noop, type Link } from './link.js';
import { compareStreamIds, ZERO_ID } from './stream-id.js';

/** What the reader needs. */
export interface ReaderOptions {
  readonly link: Link;
  readonly key: string;
  /** XREAD BLOCK time in milliseconds. */
  readonly blockMs: number;
  /** XREAD COUNT. */
  readonly batchSize: number;
  /** Delivers one entry locally; called in stream order. */
  readonly deliver: (entry: StreamEntry) => void;
  /** Reports a failure (the loop keeps going). */
  readonly onError: (error: Error) => void;
  /**
   * Called when entries this reader had not read yet were trimmed away (it fell more than the
   * stream's retention behind): local connections missed events that can no longer be sent.
   */
  readonly onLost: () => void;
}

/** Ids delivered recently, to recognise a stream restored from a snapshot that lost its tail. */
const RECENT_IDS = 1024;

/** Waits between attempts after an error that did not drop the connection (for example NOPERM). */
const ERROR_PAUSE_MS = [50, 250, 1000, 2000] as const;

interface Waiter {
  readonly id: string;
  readonly resolve: () => void;
}

/** A blocking read loop over one stream. */
export class StreamReader {
  private readonly options: ReaderOptions;
  private position: string | undefined;
  private resync = true;
  /** Read the next batch together with a check that the position is still in the stream. */
  private verify = false;
  /** The server's run id at the last (re)connection: a change means Redis restarted. */
  private runId: string | undefined;
  private stopped = false;
  private failures = 0;
  private readonly recent: string[] = [];
  private readonly recentSet = new Set<string>();
  private waiters: Waiter[] = [];
  private pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private readonly loopDone: Promise<void>;
  private markStarted!: () => void;
  /** Resolves once the reader knows where it starts (the stream's newest id at start-up). */
  readonly started: Promise<void>;

  constructor(options: ReaderOptions) {
    this.options = options;
    this.started = new Promise((resolve) => {
      this.markStarted = resolve;
    });
    // Any reconnection, even between two reads, means the stream may have changed meanwhile.
    options.link.client.on('close', this.onClose);
    this.loopDone = this.loop();
  }

  /** The id of the last entry delivered (or the start position); `undefined` before start. */
  get lastId(): string | undefined {
    return this.position;
  }

  private readonly onClose = (): void => {
    this.resync = true;
  };

  /**
   * Resolves once the reader has delivered `id` (or passed it), or after `timeoutMs`.
   */
  reached(id: string, timeoutMs: number): Promise<void> {
    if (this.stopped || (this.position !== undefined && compareStreamIds(this.position, id) >= 0)) return Promise.resolve();
    let waiter!: Waiter;
    const wait = new Promise<void>((resolve) => {
      waiter = { id, resolve };
    });
    this.waiters.push(waiter);
    return withTimeout(wait, timeoutMs, () => new Error('timeout'))
      .catch(noop)
      .finally(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
      });
  }

  /** Stops the loop and closes the reader's connection. */
  async stop(closeTimeoutMs: number): Promise<void> {
    if (this.stopped) return this.loopDone;
    this.stopped = true;
    this.markStarted();
    this.options.link.client.off('close', this.onClose);
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.resolve();
    }
    // The blocked XREAD is failed by the disconnect; the loop sees `stopped` and returns.
    this.options.link.abort();
    await this.loopDone;
    await this.options.link.close(closeTimeoutMs);
  }

  private async loop(): Promise<void> {
    const { link, key, blockMs, batchSize } = this.options;
    const client = link.client;
    while (!this.stopped) {
      try {
        if (!link.ready) await link.nextReady();
        if (this.stopped) break;
        if (this.resync) {
          this.resync = false;
          await this.locate();
          this.markStarted();
        }
        const from = this.position!;
        let entries: unknown[];
        if (this.verify) {
          entries = await this.readVerified(from);
        } else {
          entries = xreadEntries(await this.watch(client.xread('COUNT', batchSize, 'BLOCK', blockMs, 'STREAMS', key, from)));
        }
        this.failures = 0;
        // A full batch means the reader is behind: check the next read against trimming too.
        this.verify = entries.length >= batchSize;
        this.deliverAll(entries);
      } catch (error) {
        if (this.stopped) break;
        this.resync = true;
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
        await this.sleep(ERROR_PAUSE_MS[Math.min(this.failures++, ERROR_PAUSE_MS.length - 1)]!);
      }
    }
  }

  /**
   * Finds where to read from, on start and after every reconnection, from the stream's newest
   * entry:
   * - at start: that entry (only events broadcast from now on are delivered, like `$`, but
   *   without `$`'s race between two reads);
   * - stream empty or missing (Redis restarted without persistence, or the key was deleted):
   *   from `0-0`, so every event of the new stream is delivered;
   * - newest behind the position: the stream was replaced. If its newest entry is one this
   *   reader delivered, it was restored from a snapshot that lost its tail: continue after it.
   *   Otherwise it is a new stream whose ids run behind ours (the server clock went back):
   *   read it from `0-0`;
   * - otherwise: from the position, skipping nothing.
   */
  private async locate(): Promise<void> {
    const client = this.options.link.client;
    // INFO may be refused (ACLs, renamed commands): then every reconnection is checked as if the
    // server were the same one, which errs on the side of reporting a gap.
    const info = client.info('server').catch(() => '');
    const [text, reply] = await this.watch(Promise.all([info, client.xrevrange(this.options.key, '+', '-', 'COUNT', 1)]));
    const runId = /(?:^|\n)run_id:(\w+)/.exec(String(text))?.[1];
    const restarted = this.runId !== undefined && runId !== this.runId;
    this.runId = runId;
    const newest = decodeRange(reply)[0]?.id;
    const position = this.position;
    this.verify = false;
    if (position === undefined) this.position = newest ?? ZERO_ID;
    else if (newest === undefined) this.position = ZERO_ID;
    else if (compareStreamIds(newest, position) < 0) this.position = this.recentSet.has(newest) ? newest : ZERO_ID;
    // Same server, same stream: check that nothing after the position was trimmed meanwhile.
    // After a restart the old entries are gone anyway (or restored as they were), and clients
    // resuming with old ids learn of it from replay.
    else this.verify = !restarted && position !== ZERO_ID;
  }

  /**
   * A non-blocking read after `from`, atomic with a check that `from` itself is still in the
   * stream. Trimming removes the oldest entries first, so if `from` is gone, entries after it
   * may have gone unread: report the loss (then deliver what is left).
   */
  private async readVerified(from: string): Promise<unknown[]> {
    const { link, key, batchSize } = this.options;
    const results = await this.watch(link.client.multi().xrange(key, from, from).xread('COUNT', batchSize, 'STREAMS', key, from).exec());
    if (!results) throw new Error('MULTI was aborted');
    const [[rangeError, range] = [], [readError, reply] = []] = results;
    if (rangeError) throw rangeError;
    if (readError) throw readError;
    if (Array.isArray(range) && range.length === 0 && from !== ZERO_ID) this.options.onLost();
    return xreadEntries(reply);
  }

  private deliverAll(raw: unknown[]): void {
    if (raw.length === 0) return;
    for (const { id, entry } of decodeRange(raw)) {
      if (this.stopped) return;
      this.position = id;
      this.remember(id);
      if (entry === undefined) continue;
      try {
        this.options.deliver(entry);
      } catch (error) {
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (this.waiters.length > 0) {
      const position = this.position!;
      const due = this.waiters.filter((w) => compareStreamIds(position, w.id) >= 0);
      for (const waiter of due) waiter.resolve();
    }
  }

  private remember(id: string): void {
    this.recent.push(id);
    this.recentSet.add(id);
    if (this.recent.length > RECENT_IDS) this.recentSet.delete(this.recent.shift()!);
  }

  /**
   * Bounds a read: a connection that died without closing (a network partition) would leave a
   * blocked XREAD waiting forever. Past the block time plus a margin, drop the connection; the
   * client reconnects and the loop resumes from its position.
   */
  private watch<T>(command: Promise<T>): Promise<T> {
    const limit = this.options.blockMs + Math.max(2000, this.options.blockMs);
    return withTimeout(command, limit, () => {
      this.options.link.client.disconnect(true);
      return new Error(`XREAD got no answer within ${limit} ms; reconnecting`);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pause = undefined;
        resolve();
      }, ms);
      this.pause = { timer, resolve };
    });
  }
}
