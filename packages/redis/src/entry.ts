/**
 * How an event is kept in a stream and announced, and how it is read back.
 *
 * An entry holds the event already encoded, without its `id:` line (the id is the entry id,
 * assigned inside the publish script), so subscribers and replays write the same bytes without
 * encoding again. The fields stay readable with `redis-cli XRANGE`:
 *
 * ```
 * ssekit 2  body "event: ...\ndata: ...\n\n"
 * ```
 *
 * (`ssekit 2` marks entries of this layout; 0.1 wrote `ssekit 1`. The scripts write and check it.)
 *
 * The announcement on the stream's channel is the event's wire form, `id: <id>\n` then the
 * body: an instance writes it to its connections as it arrives.
 */
import type { SseEvent, StoredEvent } from '@ssekit/core';
import { formatEventBody, withIdLine } from '@ssekit/core/integration';

/**
 * Validates and encodes an event without its id. Throws `SseFormatError` before anything
 * reaches Redis, so an event that cannot be written never enters a stream. An `id` given by
 * the caller is ignored: the namespace clock assigns ids.
 */
export function encodeBody(event: SseEvent): string {
  return formatEventBody(event);
}

/** One event read back from a stream; its wire bytes and parsed form are made once, on demand. */
export class StreamEntry {
  /** The entry id, which is the event id. */
  readonly id: string;
  /** The event's wire text without its `id:` line. */
  readonly body: string;
  private wire: Buffer | undefined;
  private parsed: StoredEvent | undefined;

  constructor(id: string, body: string) {
    this.id = id;
    this.body = body;
  }

  /** The bytes a client receives: the `id:` line, then the stored body. */
  get bytes(): Buffer {
    return (this.wire ??= withIdLine(this.id, this.body));
  }

  /**
   * The event as the client parses it (`data` as the string it sees). The body was written by
   * {@link encodeBody}, so every line is `name: value`.
   */
  get event(): StoredEvent {
    if (this.parsed) return this.parsed;
    const event: StoredEvent = { id: this.id };
    let data: string[] | undefined;
    for (const line of this.body.split('\n')) {
      const colon = line.indexOf(': ');
      if (colon === -1) continue;
      const value = line.slice(colon + 2);
      switch (line.slice(0, colon)) {
        case 'event':
          event.event = value;
          break;
        case 'retry':
          event.retry = Number(value);
          break;
        case 'data':
          (data ??= []).push(value);
          break;
      }
    }
    if (data) event.data = data.join('\n');
    return (this.parsed = event);
  }
}

/**
 * Recently read entries by id, so the replays of a reconnect storm (many clients missed the
 * same events of a shared topic) share each entry's bytes and parsed event instead of making
 * them once per client. Oldest first out.
 */
export class EntryCache {
  private readonly entries = new Map<string, StreamEntry>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** The cached entry for `id` if it holds `body`, else a new one (cached). */
  get(id: string, body: string): StreamEntry {
    const cached = this.entries.get(id);
    if (cached !== undefined && cached.body === body) return cached;
    const entry = new StreamEntry(id, body);
    if (cached === undefined && this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, entry);
    return entry;
  }
}

/**
 * Decodes one stream's page of a read script's reply: the last id read (`''` when none), then
 * `id, body` pairs of the entries this package wrote (the script leaves out entries of another
 * layout version, or added by hand).
 */
export function decodePage(page: unknown, cache?: EntryCache): { entries: StreamEntry[]; last: string | undefined } {
  if (!Array.isArray(page) || page.length === 0) return { entries: [], last: undefined };
  const entries: StreamEntry[] = [];
  for (let i = 1; i + 1 < page.length; i += 2) {
    const id = page[i];
    const body = page[i + 1];
    if (typeof id === 'string' && typeof body === 'string') entries.push(cache ? cache.get(id, body) : new StreamEntry(id, body));
  }
  const last = page[0];
  return { entries, last: typeof last === 'string' && last !== '' ? last : undefined };
}

/**
 * The id of an announcement (`id: <id>\n...`), read from its bytes without decoding the rest;
 * `undefined` for a message that is not one.
 */
export function announcedId(payload: Buffer): string | undefined {
  // 'i', 'd', ':', ' '
  if (payload.length < 8 || payload[0] !== 0x69 || payload[1] !== 0x64 || payload[2] !== 0x3a || payload[3] !== 0x20) return undefined;
  const end = payload.indexOf(0x0a, 4);
  return end === -1 ? undefined : payload.toString('latin1', 4, end);
}

/** The id of a loss notice (`lost <id>`, sent on the untargeted channel); `undefined` otherwise. */
export function lossNotice(payload: Buffer): string | undefined {
  const text = payload.length < 64 ? payload.toString('latin1') : '';
  return /^lost (\d+-\d+)$/.exec(text)?.[1];
}
