/**
 * One connection for every tab of an origin: `shared: true`.
 *
 * Every stream with the same method and URL asks for the same Web Lock. The holder is the
 * leader: it runs a {@link PrivateSource} and posts what it receives on a `BroadcastChannel`,
 * each event with the stream's last id and a sequence number. The others follow the channel.
 * (every call the leader's connection makes on its own sink is replayed by the followers on
 * theirs). A browser releases a lock when the tab holding it closes (or the leader calls `close()`),
 * and the next stream in the lock's queue becomes the leader. It connects with the last id it
 * received, so the server replays exactly what it missed:
 *
 * - the new leader ignores events other tabs still post once it holds the lock: its own
 *   connection, resumed from its last id, delivers every one of them;
 * - a follower that was ahead of the new leader (it had received a few more of the old
 *   leader's last posts) skips the replayed events it already has, by id, until the first one
 *   it has not seen;
 * - a stream that joins while a leader is connected asks it for what came after its own
 *   `lastEventId`; the leader keeps its last {@link BACKLOG} events for that. An id it cannot
 *   serve (older than its backlog) is reported as a `gap`.
 *
 * @see https://w3c.github.io/web-locks/
 * @see https://html.spec.whatwg.org/multipage/web-messaging.html#broadcasting-to-other-browsing-contexts
 */
import { SseClientError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { ParsedEvent } from './parser.js';
import { createPrivateSource } from './private-source.js';
import type { Source, SourceSink } from './source.js';
import type { OpenInfo, StreamRole } from './types.js';

/** Events the leader keeps for streams that join with a `lastEventId`. */
export const BACKLOG = 512;
/** Ids a follower remembers, to skip what a new leader replays. */
const RECENT_IDS = 512;

type SinkMethod = keyof SourceSink;

/** An {@link SseClientError} as it crosses the channel (structured cloning keeps no class or fields). */
type WireError = Pick<SseClientError, 'code' | 'message' | 'status' | 'body'> & { sseError: true };

/** A call the leader made on its sink, numbered so that a joining stream knows what it has. */
interface Call {
  k: 'call';
  from: string;
  seq: number;
  m: SinkMethod;
  a: unknown[];
}

/** What a leader answers to `join`: where it is, and what the joiner missed. */
interface State {
  k: 'state';
  from: string;
  to: string;
  open: OpenInfo | undefined;
  seq: number;
  lastEventId: string;
  backlog: { seq: number; event: ParsedEvent }[] | null;
}

/** What travels on the channel. `from` is the sending stream's random id. */
type Wire = Call | State | { k: 'join'; from: string; after: string };

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
}

/** Can streams be shared here? Browsers with Web Locks and `BroadcastChannel`; not Node.js 20. */
export function canShare(): boolean {
  return typeof BroadcastChannel === 'function' && lockManager() !== undefined;
}

function toWire(value: unknown): unknown {
  return value instanceof SseClientError ? ({ ...value, message: value.message, sseError: true } satisfies WireError) : value;
}

function fromWire(value: unknown): unknown {
  const error = value as Partial<WireError> | undefined;
  return error?.sseError ? new SseClientError(error.code!, error.message!, error) : value;
}

/**
 * A stream's share of the connection its origin holds for one method and URL.
 * @param lastEventId - the id to resume after (`''` for none).
 */
export function createSharedSource(url: URL, options: ResolvedOptions, sink: SourceSink, lastEventId: string): Source {
  const name = `ssekit-client ${options.method} ${url.href}`;
  // Web Locks exist only in secure contexts, and so does randomUUID.
  const self = crypto.randomUUID();
  const lockAbort = new AbortController();
  let channel: BroadcastChannel | undefined;
  let role: StreamRole = 'follower';
  let stopped = false;

  // Follower state.
  /** Waiting for the leader's answer to `join`; its calls meanwhile are buffered. */
  let joining = true;
  let buffered: Call[] = [];
  /** The stream whose events were delivered last. */
  let leader: string | undefined;
  /** Since a new leader's first event: skipping what it replays that was already delivered. */
  let skipping = false;
  const recent = new Set<string>();

  // Leader state.
  let release: (() => void) | undefined;
  let inner: Source | undefined;
  let open: OpenInfo | undefined;
  let seq = 0;
  const backlog: State['backlog'] & object = [];
  /** The id the leader's connection started from, and whether the backlog still reaches back to it. */
  let startId = '';
  let backlogFromStart = true;

  const post = (message: Wire): void => channel?.postMessage(message);
  const join = (): void => post({ k: 'join', from: self, after: lastEventId });
  const call = (m: SinkMethod, a: unknown[]): void => (sink[m] as (...args: unknown[]) => void)(...a);

  /** Holds the lock until this stream stops: that is what makes it the leader. */
  function lead(): Promise<void> {
    if (stopped) return Promise.resolve();
    role = 'leader';
    joining = false;
    buffered = [];
    startId = lastEventId;
    const held = new Promise<void>((resolve) => (release = resolve));
    const forward =
      (m: SinkMethod) =>
      (...a: unknown[]): void => {
        const n = ++seq;
        if (m === 'event') {
          const event = a[0] as ParsedEvent;
          lastEventId = event.lastEventId;
          if (backlog.push({ seq: n, event }) > BACKLOG) {
            backlog.shift();
            backlogFromStart = false;
          }
        } else if (m === 'open' || m === 'error') {
          open = m === 'open' ? (a[0] as OpenInfo) : undefined;
        }
        post({ k: 'call', from: self, seq: n, m, a: a.map(toWire) });
        call(m, a);
      };
    const leaderSink: SourceSink = {
      open: forward('open'),
      event: forward('event'),
      error: forward('error'),
      gap: forward('gap'),
      connecting: forward('connecting'),
      end: forward('end'),
    };
    // Tells the followers a new leader is connecting (and answers joins left unanswered).
    leaderSink.connecting();
    inner = createPrivateSource(url, options, leaderSink, lastEventId);
    inner.start();
    return held;
  }

  /** What a joining stream missed after `after`, or `null` when the backlog does not reach back that far. */
  function backlogAfter(after: string): State['backlog'] {
    if (after === '' || after === lastEventId) return [];
    const i = backlog.findLastIndex(({ event }) => event.id === after);
    if (i !== -1) return backlog.slice(i + 1);
    return after === startId && backlogFromStart ? backlog.slice() : null;
  }

  function receive(message: Wire): void {
    if (stopped) return;
    if (role === 'leader') {
      if (message.k === 'join') {
        post({ k: 'state', from: self, to: message.from, open, seq, lastEventId, backlog: backlogAfter(message.after) });
      }
      // Anything else comes from a leader that is gone; this stream's own connection, resumed
      // from its last id, delivers all of it.
      return;
    }
    if (message.k === 'state') {
      if (message.to === self && joining) joined(message);
    } else if (message.k === 'call') {
      if (!joining) return apply(message);
      // A join sent while no stream led, or to a leader that has gone: ask the new one.
      if (message.m === 'connecting') join();
      buffered.push(message);
    }
  }

  function apply({ from, m, a }: Call): void {
    if (m === 'event') deliver(from, a[0] as ParsedEvent);
    else call(m, a.map(fromWire));
  }

  function joined(state: State): void {
    joining = false;
    leader = state.from;
    const asked = lastEventId;
    if (state.open) sink.open({ ...state.open, lastEventId: asked || state.open.lastEventId });
    if (state.backlog === null) sink.gap(asked || undefined);
    else for (const { event } of state.backlog) deliver(state.from, event);
    // Live from here: the leader's position is this stream's.
    if (asked === '' || state.backlog === null) lastEventId = state.lastEventId;
    const calls = buffered;
    buffered = [];
    for (const c of calls) if (c.from !== state.from || c.seq > state.seq) apply(c);
  }

  function deliver(from: string, event: ParsedEvent): void {
    if (from !== leader) {
      // A new leader: its first events may be the replay of what this stream already has.
      leader = from;
      skipping = recent.size > 0;
    }
    const { id } = event;
    if (skipping && id !== undefined) {
      if (recent.has(id)) return;
      skipping = false;
    }
    if (id !== undefined) {
      recent.add(id);
      if (recent.size > RECENT_IDS) recent.delete(recent.values().next().value as string);
    }
    lastEventId = event.lastEventId;
    sink.event(event);
  }

  return {
    get role() {
      return role;
    },
    get lastEventId() {
      // The leader's connection also moves on blocks that carry only an id.
      return inner ? inner.lastEventId : lastEventId;
    },
    start() {
      channel = new BroadcastChannel(name);
      channel.onmessage = (message: MessageEvent<Wire>) => receive(message.data);
      join();
      lockManager()!
        .request(name, { signal: lockAbort.signal }, lead)
        .catch(() => {
          // Aborted while queued: this stream closed before its turn came.
        });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      inner?.stop();
      lockAbort.abort();
      release?.();
      channel?.close();
      channel = undefined;
    },
  };
}
