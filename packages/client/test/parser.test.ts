/**
 * The event-stream parser against the examples of the WHATWG HTML "Server-sent events" section,
 * against eventsource-parser (an independent implementation) on random streams cut into random
 * chunks, and against @ssekit/core's encoder: whatever `formatEvent` writes parses back to the
 * event it was given.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import fc from 'fast-check';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { formatEvent, type SseEvent } from '@ssekit/core';
import { createEventStreamParser, type ParsedEvent } from '@ssekit/client';

interface Parsed {
  events: ParsedEvent[];
  retries: number[];
  comments: string[];
  lastEventId: string;
}

/** Feeds `chunks` one after the other to a new parser and returns everything it reported. */
function parse(chunks: string | readonly string[], lastEventId = ''): Parsed {
  const out: Parsed = { events: [], retries: [], comments: [], lastEventId: '' };
  const parser = createEventStreamParser(
    {
      onEvent: (event) => out.events.push(event),
      onRetry: (ms) => out.retries.push(ms),
      onComment: (text) => out.comments.push(text),
    },
    lastEventId,
  );
  for (const chunk of typeof chunks === 'string' ? [chunks] : chunks) parser.feed(chunk);
  out.lastEventId = parser.lastEventId;
  return out;
}

/** Every way of cutting `text` in two, plus one character per chunk. */
function splits(text: string): string[][] {
  const ways: string[][] = [[...text]];
  for (let i = 0; i <= text.length; i++) ways.push([text.slice(0, i), text.slice(i)]);
  return ways;
}

/** The parse of `text` must not depend on how the text is cut into chunks. */
function expectSameForEverySplit(text: string): Parsed {
  const whole = parse(text);
  for (const chunks of splits(text)) expect(parse(chunks)).toEqual(whole);
  return whole;
}

const message = (data: string, lastEventId = '', event = 'message', id: string | undefined = undefined): ParsedEvent => ({
  event,
  data,
  id,
  lastEventId,
});

describe('the spec examples', () => {
  it('three messages, the second on two lines', () => {
    const text =
      'data: This is the first message.\n\n' +
      'data: This is the second message, it\n' +
      'data: has two lines.\n\n' +
      'data: This is the third message.\n\n';
    expect(expectSameForEverySplit(text).events).toEqual([
      message('This is the first message.'),
      message('This is the second message, it\nhas two lines.'),
      message('This is the third message.'),
    ]);
  });

  it('event types: add, remove, add', () => {
    const text = 'event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n';
    expect(expectSameForEverySplit(text).events).toEqual([
      message('73857293', '', 'add'),
      message('2153', '', 'remove'),
      message('113411', '', 'add'),
    ]);
  });

  it('the stock ticker block is one message of three lines', () => {
    expect(expectSameForEverySplit('data: YHOO\ndata: +2\ndata: 10\n\n').events).toEqual([message('YHOO\n+2\n10')]);
  });

  it('comment, ids, and an id field without value resetting the last event ID', () => {
    // "The first block has just a comment, and will fire nothing. [...] an event will be fired
    // for this block, with the data "first event", and will then set the last event ID to "1"
    // [...] The third block fires an event with data "second event", and also has an "id"
    // field, this time with no value, which resets the last event ID to the empty string [...]
    // the last block just fires an event with the data " third event" (with a single leading
    // space character)."
    const text = ': test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n';
    const parsed = expectSameForEverySplit(text);
    expect(parsed.comments).toEqual(['test stream']);
    expect(parsed.events).toEqual([message('first event', '1', 'message', '1'), message('second event', '', 'message', ''), message(' third event', '')]);
    expect(parsed.lastEventId).toBe('');
  });

  it('two events with empty data, one with a single newline, and a last block that is discarded', () => {
    // "The first block fires events with the data set to the empty string, as would the last
    // block if it was followed by a blank line. The middle block fires an event with the data
    // set to a single newline character. The last block is discarded because it is not
    // followed by a blank line."
    expect(expectSameForEverySplit('data\n\ndata\ndata\n\ndata:').events).toEqual([message(''), message('\n')]);
  });

  it('the space after the colon is optional: two identical events', () => {
    expect(expectSameForEverySplit('data:test\n\ndata: test\n\n').events).toEqual([message('test'), message('test')]);
  });
});

describe('the parsing rules', () => {
  it('accepts CR, LF and CRLF line ends, a CR LF pair split across chunks included', () => {
    const text = 'data: a\r\ndata: b\rdata: c\n\r\nid: 7\r\rdata: d\r\r';
    const parsed = expectSameForEverySplit(text);
    expect(parsed.events).toEqual([message('a\nb\nc'), message('d', '7')]);
    // A block with only an id still moved the last event ID.
    expect(parsed.lastEventId).toBe('7');
  });

  it('does not wait for the next chunk to finish a line that ends with CR', () => {
    const events: ParsedEvent[] = [];
    const parser = createEventStreamParser({ onEvent: (e) => events.push(e) });
    parser.feed('data: now\r\r');
    expect(events).toEqual([message('now')]);
    parser.feed('\ndata: next\n\n'); // the LF completes the CR LF pair: no extra blank line
    expect(events).toEqual([message('now'), message('next')]);
  });

  it('ignores one leading BOM, and only at the start of the stream', () => {
    expect(expectSameForEverySplit('\uFEFFdata: x\n\n').events).toEqual([message('x')]);
    // A second BOM is part of the first line: a field named "\uFEFFdata", ignored.
    expect(parse('\uFEFF\uFEFFdata: x\n\n').events).toEqual([]);
    expect(parse(['data: a\n\n', '\uFEFFdata: b\n\n']).events).toEqual([message('a')]);
    expect(parse(['', '\uFEFF', 'data: y\n\n']).events).toEqual([message('y')]);
  });

  it('takes retry only when it is ASCII digits', () => {
    const parsed = parse('retry: 1500\nretry: 15x\nretry: -1\nretry: 1.5\nretry:\nretry: \u0663\nretry:0020\n\n');
    expect(parsed.retries).toEqual([1500, 20]);
    expect(parsed.events).toEqual([]);
  });

  it('ignores an id that contains NUL and keeps the previous one', () => {
    const parsed = parse('id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\n');
    expect(parsed.events).toEqual([message('a', '1', 'message', '1'), message('b', '1')]);
  });

  it('ignores unknown fields, keeps field names case-sensitive, and resets the event type after each event', () => {
    const parsed = parse('Data: no\nfoo: bar\nevent: custom\ndata: 1\n\ndata: 2\n\nevent: lonely\n\ndata: 3\n\n');
    expect(parsed.events).toEqual([message('1', '', 'custom'), message('2'), message('3')]);
  });

  it('starts from the last event ID it is given, and only moves it when a block ends', () => {
    const events: ParsedEvent[] = [];
    const parser = createEventStreamParser({ onEvent: (e) => events.push(e) }, 'resume-42');
    parser.feed('data: a\n\nid: 43\ndata: b');
    expect(events).toEqual([message('a', 'resume-42')]);
    // The block with id 43 has not ended: a reconnect now must still resume after 42.
    expect(parser.lastEventId).toBe('resume-42');
    parser.feed('\n\n');
    expect(parser.lastEventId).toBe('43');
  });

  it('joins a long line sent in many small chunks', () => {
    const data = 'x'.repeat(10_000);
    const chunks = `data: ${data}\n\n`.match(/[^]{1,7}/g)!;
    expect(parse(chunks).events).toEqual([message(data)]);
  });
});

describe('against eventsource-parser on random streams', () => {
  /** Pieces that exercise every rule: field names, separators, line ends, NUL, digits. */
  const piece = fc.constantFrom(
    'data',
    'event',
    'id',
    'retry',
    'foo',
    ':',
    ': ',
    ' ',
    '\n',
    '\r',
    '\r\n',
    '\n\n',
    '\0',
    '1',
    '42',
    'x',
    'é',
    '😀',
    'data: ',
    'id: ',
    'event: ',
    'retry: ',
  );
  const stream = fc.array(piece, { maxLength: 80 }).map((pieces) => pieces.join(''));

  /** Cuts `text` at the given positions. */
  function cut(text: string, positions: number[]): string[] {
    const at = [...new Set(positions.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
    const chunks: string[] = [];
    let start = 0;
    for (const p of at) {
      chunks.push(text.slice(start, p));
      start = p;
    }
    chunks.push(text.slice(start));
    return chunks;
  }

  function reference(chunks: string[]): { events: EventSourceMessage[]; retries: number[] } {
    const out = { events: [] as EventSourceMessage[], retries: [] as number[] };
    const parser = createParser({ onEvent: (e) => out.events.push(e), onRetry: (r) => out.retries.push(r) });
    for (const chunk of chunks) parser.feed(chunk);
    return out;
  }

  it('reports the same events (name, data, id) and the same retry values', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 10 }), (text, positions) => {
        // eventsource-parser holds a CR that ends a chunk until a later chunk with a line end
        // arrives (ours takes it as a line end at once and skips a LF that follows): a last
        // chunk with a LF lets it catch up, and means the same to both.
        const chunks = [...cut(text, positions), '\nx'];
        const ours = parse(chunks);
        const theirs = reference(chunks);
        expect(ours.events.map(({ event, data, id }) => ({ event, data, id }))).toEqual(
          theirs.events.map(({ event, data, id }) => ({ event: event ?? 'message', data, id })),
        );
        expect(ours.retries).toEqual(theirs.retries);
        // And the cut never matters.
        expect(ours).toEqual(parse(`${text}\nx`));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("round trips through @ssekit/core's formatEvent", () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    // Multi-line text, leading spaces and empty lines: what the encoder must keep exact.
    fc.array(fc.constantFrom('a', ' ', ':', '\n', '\r', '\r\n', 'data: x', '😀'), { maxLength: 12 }).map((parts) => parts.join('')),
  );
  const line = fc.stringMatching(/^[^\r\n]*$/, { size: 'small' });
  const event = fc.record(
    {
      id: line.filter((s) => !s.includes('\0') && s.isWellFormed()),
      event: line.filter((s) => s.isWellFormed()),
      data: fc.oneof(text, fc.jsonValue()),
      retry: fc.nat({ max: 100_000 }),
    },
    { requiredKeys: ['data'] },
  );

  it('parses back to the event that was encoded', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 5 }), fc.nat(), (events, cutAt) => {
        const wire = events.map((e) => Buffer.from(formatEvent(e as SseEvent)).toString('utf8')).join('');
        const at = cutAt % (wire.length + 1);
        const parsed = parse([wire.slice(0, at), wire.slice(at)]);
        let lastEventId = '';
        const expected = events.map((e) => {
          if (e.id !== undefined) lastEventId = e.id;
          // A client turns CR and CRLF inside data into LF: a limit of the format itself.
          const data = (typeof e.data === 'string' ? e.data : JSON.stringify(e.data)).replace(/\r\n|\r/g, '\n');
          return message(data, lastEventId, e.event || 'message', e.id);
        });
        expect(parsed.events).toEqual(expected);
        expect(parsed.retries).toEqual(events.filter((e) => e.retry !== undefined).map((e) => e.retry));
      }),
      { numRuns: 1000 },
    );
  });
});
