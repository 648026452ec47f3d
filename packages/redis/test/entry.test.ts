/**
 * Stream ids and the entry layout, without Redis.
 */
import { decodeRange, entryBytes, entryEvent, toFields, xreadEntries } from '../src/entry';
import { compareStreamIds, normalizeStreamId } from '../src/stream-id';

test('stream ids: only <ms>-<seq> with 64-bit parts, compared numerically', () => {
  expect(normalizeStreamId('1700000000000-0')).toBe('1700000000000-0');
  expect(normalizeStreamId('0001-02')).toBe('1-2');
  expect(normalizeStreamId('18446744073709551615-18446744073709551615')).toBe('18446744073709551615-18446744073709551615');
  for (const bad of ['18446744073709551616-0', '1-', '-1', '1', '1-2-3', ' 1-2', '1-2\n', 'abc', '', '$', '+', '-']) {
    expect(normalizeStreamId(bad)).toBeUndefined();
  }
  expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
  expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
  expect(compareStreamIds('10-10', '10-2')).toBeGreaterThan(0);
  expect(compareStreamIds('5-5', '5-5')).toBe(0);
});

test('an entry stores the encoded body; readers put the id line in front of it', () => {
  const event = { id: 'ignored', event: 'tick', data: 'a\r\nb', retry: 10 };
  const fields = toFields(event, 'news');
  expect(fields).toEqual(['ssekit', '1', 'topic', 'news', 'body', 'event: tick\nretry: 10\ndata: a\ndata: b\n\n']);
  const [decoded] = decodeRange([['7-1', fields]]);
  expect(decoded!.entry).toEqual({ id: '7-1', topic: 'news', body: 'event: tick\nretry: 10\ndata: a\ndata: b\n\n' });
  expect(entryBytes(decoded!.entry!).toString()).toBe('id: 7-1\nevent: tick\nretry: 10\ndata: a\ndata: b\n\n');
  expect(entryEvent(decoded!.entry!)).toEqual({ id: '7-1', event: 'tick', retry: 10, data: 'a\nb' });
  expect(entryEvent({ id: '1-1', topic: undefined, body: '\n' })).toEqual({ id: '1-1' });
  expect(entryEvent({ id: '1-1', topic: undefined, body: 'data: \n\n' })).toEqual({ id: '1-1', data: '' });
});

test('entries not written by this package keep their place but carry no event', () => {
  expect(decodeRange([['1-1', ['other', 'x']], ['1-2', ['ssekit', '2', 'body', 'data: x\n\n']]])).toEqual([
    { id: '1-1', entry: undefined },
    { id: '1-2', entry: undefined },
  ]);
});

test('XREAD replies are read in RESP2, RESP3 legacy and RESP3 map shapes', () => {
  const entries = [['1-1', ['ssekit', '1', 'body', 'data: x\n\n']]];
  expect(xreadEntries(null)).toEqual([]);
  expect(xreadEntries([['key', entries]])).toEqual(entries);
  expect(xreadEntries(['key', entries])).toEqual(entries);
  expect(xreadEntries({ key: entries })).toEqual(entries);
});
