import fc from 'fast-check';
import { EventSource } from 'eventsource';
import { SseFormatError, formatComment, formatEvent, type SseEvent, type SseField } from '@ssekit/core';
import { closeAll, connect, deferred, interpretStream, parseWire, startServer, track, withTimeout } from './helpers';

afterEach(closeAll);

/** The event-stream format has one line terminator on the client side: CR and CRLF arrive as LF. */
const asReceived = (data: string): string => data.replace(/\r\n|\r/g, '\n');

function expectFormatError(fn: () => unknown, field: SseField): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(SseFormatError);
  expect((thrown as SseFormatError).field).toBe(field);
  expect((thrown as SseFormatError).code).toBe('format');
}

describe('exact wire strings', () => {
  const wire = (event: SseEvent): string => formatEvent(event).toString('utf8');

  it('writes fields, one data line per input line, and a blank line', () => {
    expect(wire({ data: 'hello' })).toBe('data: hello\n\n');
    expect(wire({ id: '1', event: 'tick', data: 'a\nb', retry: 3000 })).toBe('event: tick\nid: 1\nretry: 3000\ndata: a\ndata: b\n\n');
    expect(wire({ data: 'a\r\nb\rc\n' })).toBe('data: a\ndata: b\ndata: c\ndata: \n\n');
    expect(wire({ data: '' })).toBe('data: \n\n');
    expect(wire({ data: '  two spaces' })).toBe('data:   two spaces\n\n');
    expect(wire({ data: { a: [1, 'x'] } })).toBe('data: {"a":[1,"x"]}\n\n');
    expect(wire({ id: '42' })).toBe('id: 42\n\n');
    expect(wire({ retry: 0 })).toBe('retry: 0\n\n');
    expect(wire({ data: new TextEncoder().encode('é\n€') })).toBe('data: é\ndata: €\n\n');
  });

  it('returns bytes', () => {
    expect(formatEvent({ data: 'x' })).toBeInstanceOf(Uint8Array);
    expect(formatComment('x')).toBeInstanceOf(Uint8Array);
  });

  it('writes one comment line per input line', () => {
    expect(formatComment().toString()).toBe(':\n');
    expect(formatComment('keep-alive').toString()).toBe(': keep-alive\n');
    expect(formatComment('a\r\n\nid: 1\rdata: x').toString()).toBe(': a\n:\n: id: 1\n: data: x\n');
  });
});

describe('round trip through eventsource-parser', () => {
  const cases: [string, SseEvent, { id?: string; event?: string; data: string }][] = [
    ['LF lines', { data: 'a\nb\n\nc' }, { data: 'a\nb\n\nc' }],
    ['CR lines', { data: 'a\rb\r\rc' }, { data: 'a\nb\n\nc' }],
    ['CRLF lines', { data: 'a\r\nb\r\n' }, { data: 'a\nb\n' }],
    ['empty data', { data: '' }, { data: '' }],
    ['leading spaces', { data: '   x\n y' }, { data: '   x\n y' }],
    ['unicode', { data: 'zé 中文 🎉 \u2028\u0085' }, { data: 'zé 中文 🎉 \u2028\u0085' }],
    ['UTF-8 bytes', { data: new TextEncoder().encode('bytes é 🎉\nline') }, { data: 'bytes é 🎉\nline' }],
    ['JSON', { data: { n: 1, s: 'a\nb', u: 'é' } }, { data: JSON.stringify({ n: 1, s: 'a\nb', u: 'é' }) }],
    ['name and id', { id: 'é-1', event: ' spaced name', data: 'd' }, { id: 'é-1', event: ' spaced name', data: 'd' }],
    ['BOM and NUL in data', { data: '\uFEFFx\0y' }, { data: '\uFEFFx\0y' }],
  ];

  it.each(cases)('%s', (_name, event, expected) => {
    const parsed = parseWire(formatEvent(event));
    expect(parsed.errors).toEqual([]);
    expect(parsed.events).toEqual([{ id: expected.id, event: expected.event, data: expected.data }]);
  });

  it('every case arrives the same way over a real server', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (const [, event] of cases) res.write(formatEvent(event));
    });
    const client = await connect(server.url);
    for (const [, , expected] of cases) {
      expect(await client.nextEvent()).toEqual({ id: expected.id, event: expected.event, data: expected.data });
    }
  });

  it('an id-only event does not fire but moves the last event id', () => {
    const wire = Buffer.concat([formatEvent({ id: 'a' }), formatEvent({ id: 'b' }), formatEvent({ data: 'x' })]).toString();
    expect(parseWire(formatEvent({ id: 'b' })).events).toEqual([]);
    const { messages, lastEventId } = interpretStream(wire);
    expect(messages).toEqual([{ type: 'message', data: 'x', lastEventId: 'b' }]);
    expect(lastEventId).toBe('b');
  });

  it('retry is reported as a reconnection time', () => {
    expect(parseWire(formatEvent({ retry: 2500 })).retries).toEqual([2500]);
    expect(parseWire(formatEvent({ retry: 2500 })).events).toEqual([]);
  });

  it('comments never become fields', () => {
    const parsed = parseWire(formatComment('x\ndata: injected\r\nid: 9\rretry: 1\n\nevent: e'));
    expect(parsed.events).toEqual([]);
    expect(parsed.retries).toEqual([]);
    expect(parsed.comments).toEqual(['x', 'data: injected', 'id: 9', 'retry: 1', '', 'event: e']);
  });
});

describe('rejects what cannot be represented', () => {
  it.each([-1, 1.5, NaN, Infinity, 2 ** 53, '10' as unknown as number])('retry %p', (retry) => {
    expectFormatError(() => formatEvent({ retry }), 'retry');
  });

  it.each(['a\nb', 'a\rb', 'a\r\nb', '\n'])('event %j', (name) => {
    expectFormatError(() => formatEvent({ event: name, data: 'x' }), 'event');
  });

  it.each(['a\nb', 'a\rb', 'a\0b', '\r\n'])('id %j', (id) => {
    expectFormatError(() => formatEvent({ id, data: 'x' }), 'id');
  });

  it('lone surrogates, invalid UTF-8 bytes and unserialisable data', () => {
    expectFormatError(() => formatEvent({ data: 'a\uD800' }), 'data');
    expectFormatError(() => formatEvent({ data: '\uDC00b' }), 'data');
    expectFormatError(() => formatEvent({ id: '\uD800' }), 'id');
    expectFormatError(() => formatEvent({ event: '\uDFFF' }), 'event');
    expectFormatError(() => formatComment('\uD83D'), 'comment');
    expectFormatError(() => formatEvent({ data: new Uint8Array([0xc3]) }), 'data');
    expectFormatError(() => formatEvent({ data: { big: 1n } }), 'data');
    expectFormatError(() => formatEvent({ data: () => 1 }), 'data');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectFormatError(() => formatEvent({ data: cyclic }), 'data');
  });
});

describe('properties', () => {
  /** Characters that matter to the format, mixed with any code point (lone surrogates included). */
  const nasty = fc.constantFrom('\r', '\n', '\r\n', '\0', '\uFEFF', '\uD800', '\uDFFF', ' ', ':', 'data: x', 'id: 1', 'event: e', 'retry: 5', '\n\n');
  const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));
  const anyString = fc.string({ unit: fc.oneof(nasty, anyCodePoint, fc.constantFrom('a', 'é', '🎉')), maxLength: 40 });
  const wellFormed = anyString.filter((s) => s.isWellFormed());

  it('any well-formed string data arrives exactly (line breaks as LF)', () => {
    fc.assert(
      fc.property(wellFormed, (data) => {
        const parsed = parseWire(formatEvent({ data }));
        expect(parsed.events).toEqual([{ id: undefined, event: undefined, data: asReceived(data) }]);
        expect(interpretStream(formatEvent({ data }).toString()).messages).toEqual([{ type: 'message', data: asReceived(data), lastEventId: '' }]);
      }),
      { numRuns: 2000 },
    );
  });

  it('strings without CR arrive exactly as sent', () => {
    fc.assert(
      fc.property(wellFormed.map((s) => s.replace(/\r/g, '')), (data) => {
        expect(parseWire(formatEvent({ data })).events).toEqual([{ id: undefined, event: undefined, data }]);
      }),
      { numRuns: 1000 },
    );
  });

  it('arbitrary id, event, data and comment either round-trip or throw for the right field', () => {
    const maybe = fc.option(anyString, { nil: undefined });
    const retries = fc.option(fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(NaN, -0, 2 ** 53, Infinity)), { nil: undefined });
    fc.assert(
      fc.property(maybe, maybe, maybe, retries, anyString, (id, name, data, retry, comment) => {
        // The order the encoder checks fields in.
        const invalid: SseField | undefined =
          name !== undefined && (/[\r\n]/.test(name) || !name.isWellFormed()) ? 'event'
          : id !== undefined && (/[\r\n\0]/.test(id) || !id.isWellFormed()) ? 'id'
          : retry !== undefined && !(Number.isSafeInteger(retry) && retry >= 0) ? 'retry'
          : data !== undefined && !data.isWellFormed() ? 'data'
          : undefined;
        const event: SseEvent = {};
        if (id !== undefined) event.id = id;
        if (name !== undefined) event.event = name;
        if (data !== undefined) event.data = data;
        if (retry !== undefined) event.retry = retry;
        if (invalid) {
          expectFormatError(() => formatEvent(event), invalid);
        } else {
          const wire = formatEvent(event);
          const parsed = parseWire(wire);
          // -0 is written as 0.
          expect(parsed.retries).toEqual(retry === undefined ? [] : [retry + 0]);
          expect(parsed.errors).toEqual([]);
          if (data === undefined) {
            expect(parsed.events).toEqual([]);
          } else {
            // eventsource-parser reports an empty event name as absent; both mean `message`.
            expect(parsed.events).toEqual([{ id, event: name || undefined, data: asReceived(data) }]);
          }
          const spec = interpretStream(wire.toString());
          expect(spec.lastEventId).toBe(id ?? '');
          expect(spec.messages.length).toBe(data === undefined ? 0 : 1);
        }

        if (!comment.isWellFormed()) {
          expectFormatError(() => formatComment(comment), 'comment');
        } else {
          const parsed = parseWire(formatComment(comment));
          expect(parsed.events).toEqual([]);
          expect(parsed.retries).toEqual([]);
          expect(parsed.errors).toEqual([]);
          expect(parsed.comments.join('\n')).toBe(asReceived(comment));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('over a real server', () => {
  it('an EventSource receives every event as it was encoded', async () => {
    const events: SseEvent[] = [
      { data: 'a\nb' },
      { data: '' },
      { event: 'custom', data: '  lead' },
      { id: 'id-é', data: { json: true } },
      { id: 'only-id' },
      { data: new TextEncoder().encode('🎉\r\nx') },
      { data: 'last' },
    ];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(formatComment('hello'));
      for (const event of events) res.write(formatEvent(event));
    });
    const source = new EventSource(server.url);
    track(() => source.close());
    const received: { type: string; data: string; lastEventId: string }[] = [];
    const done = deferred();
    const record = (e: MessageEvent): void => {
      received.push({ type: e.type, data: e.data as string, lastEventId: e.lastEventId });
      if (e.data === 'last') done.resolve();
    };
    source.addEventListener('message', record);
    source.addEventListener('custom', record);
    await withTimeout(done.promise, 3000, 'the last event');
    expect(received).toEqual([
      { type: 'message', data: 'a\nb', lastEventId: '' },
      { type: 'message', data: '', lastEventId: '' },
      { type: 'custom', data: '  lead', lastEventId: '' },
      { type: 'message', data: '{"json":true}', lastEventId: 'id-é' },
      { type: 'message', data: '🎉\nx', lastEventId: expect.any(String) },
      { type: 'message', data: 'last', lastEventId: expect.any(String) },
    ]);
  });

  it('raw bytes on the wire are exactly the encoder output', async () => {
    const bytes = Buffer.concat([formatEvent({ id: '1', event: 'e', data: 'x\ny' }), formatComment('c')]);
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(bytes);
    });
    const client = await connect(server.url);
    expect(await client.nextEvent()).toEqual({ id: '1', event: 'e', data: 'x\ny' });
    expect(await client.nextComment()).toBe('c');
    expect(client.text).toBe('event: e\nid: 1\ndata: x\ndata: y\n\n: c\n');
  });
});
