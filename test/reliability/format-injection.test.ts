/**
 * Field injection: whatever strings an app puts in an event (user input, an LLM's output, a
 * database row), the bytes on the wire must parse back to exactly that event, or the encoder
 * must refuse with SseFormatError. A stream must never carry more events, fields or `retry`
 * values than were sent: one line break slipped into `event` or `id` would let the rest of
 * the string act as fields of its own.
 *
 * Streams are parsed by eventsource-parser, fed in random byte-sized pieces and decoded the
 * way a browser does (streaming UTF-8), so CR/LF pairs and multi-byte characters split across
 * chunks are covered too.
 */
import fc from 'fast-check';
import { SseFormatError, formatComment, formatEvent, type SseEvent } from '@ssekit/core';
import { parseWire } from '@ssekit/testkit';

/** Pieces that break naive encoders: line ends, NUL, BOM, lone surrogates, field look-alikes. */
const hostilePiece = fc.oneof(
  fc.constantFrom('\r', '\n', '\r\n', '\n\r', '\0', '\uFEFF', '\uD800', '\uDFFF', '\uD83D\uDE00', ':', ' ', '  '),
  fc.constantFrom('data: x', 'id: 1', 'event: evil', 'retry: 1', ': comment', 'foo: bar', 'data', 'id'),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const hostileString = fc.array(hostilePiece, { maxLength: 8 }).map((parts) => parts.join(''));

const retryValue = fc.oneof(
  fc.nat({ max: 100_000 }),
  fc.constantFrom(-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53),
);

const eventArb: fc.Arbitrary<SseEvent> = fc.record(
  { id: hostileString, event: hostileString, data: hostileString, retry: retryValue },
  { requiredKeys: [] },
);

/** What the encoder must refuse, by the design's rules. */
function mustRefuse(event: SseEvent): boolean {
  const bad = (s: string | undefined, pattern: RegExp) => s !== undefined && (pattern.test(s) || !s.isWellFormed());
  if (bad(event.id, /[\r\n\0]/)) return true;
  if (bad(event.event, /[\r\n]/)) return true;
  if (typeof event.data === 'string' && !event.data.isWellFormed()) return true;
  const r = event.retry;
  return r !== undefined && !(Number.isSafeInteger(r) && r >= 0);
}

/** Parses bytes fed in pieces cut at `cuts`, decoding UTF-8 as a browser does (as a stream, strictly). */
const parse = (bytes: Uint8Array, cuts: number[]) => parseWire(bytes, { cuts, fatal: true });

test('any event either round-trips exactly or is refused; nothing is ever injected', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (events, cuts) => {
      const sent: SseEvent[] = [];
      const chunks: Buffer[] = [];
      for (const event of events) {
        let bytes: Buffer;
        try {
          bytes = formatEvent(event);
        } catch (error) {
          expect(error).toBeInstanceOf(SseFormatError);
          expect(mustRefuse(event)).toBe(true);
          continue;
        }
        expect(mustRefuse(event)).toBe(false);
        sent.push(event);
        chunks.push(bytes);
      }
      const parsed = parse(Buffer.concat(chunks), cuts);

      // Exactly the events that carry data fire, with exactly their fields: no more, no less.
      const firing = sent.filter((e) => e.data !== undefined);
      expect(parsed.events).toHaveLength(firing.length);
      parsed.events.forEach((got, i) => {
        const want = firing[i]!;
        // The spec has no way to carry a CR: every line end in data arrives as LF.
        expect(got.data).toBe((want.data as string).replace(/\r\n|\r/g, '\n'));
        // eventsource-parser reports an empty name as undefined; browsers call both "message".
        expect(got.event).toBe(want.event === '' ? undefined : want.event);
        expect(got.id).toBe(want.id);
      });
      expect(parsed.retries).toEqual(sent.filter((e) => e.retry !== undefined).map((e) => e.retry));
      expect(parsed.comments).toEqual([]);
      expect(parsed.errors).toEqual([]);
    }),
    { numRuns: 2000 },
  );
});

test('a comment can never become a field or an event', () => {
  fc.assert(
    fc.property(hostileString, fc.array(fc.nat(), { maxLength: 4 }), (text, cuts) => {
      let bytes: Buffer;
      try {
        bytes = formatComment(text);
      } catch (error) {
        expect(error).toBeInstanceOf(SseFormatError);
        expect(text.isWellFormed()).toBe(false);
        return;
      }
      const parsed = parse(bytes, cuts);
      expect(parsed.events).toEqual([]);
      expect(parsed.retries).toEqual([]);
      expect(parsed.errors).toEqual([]);
      expect(parsed.comments).toEqual(text.split(/\r\n|\r|\n/));
    }),
    { numRuns: 1000 },
  );
});

test('bytes as data are sent only when they are UTF-8, and then round-trip', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), (data) => {
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
      } catch {
        text = undefined;
      }
      let bytes: Buffer;
      try {
        bytes = formatEvent({ data });
      } catch (error) {
        expect(error).toBeInstanceOf(SseFormatError);
        expect(text).toBeUndefined();
        return;
      }
      expect(text).toBeDefined();
      const parsed = parse(bytes, []);
      expect(parsed.events).toHaveLength(1);
      // Line ends inside the bytes become data lines and come back as LF, per the spec.
      expect(parsed.events[0]!.data).toBe(text!.replace(/\r\n|\r/g, '\n'));
      expect(parsed.errors).toEqual([]);
    }),
    { numRuns: 1000 },
  );
});
