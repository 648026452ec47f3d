/**
 * Stream ids, the key layout and the entry layout, without Redis.
 */
import { EntryCache, announcedId, decodePage, encodeBody, StreamEntry } from '../src/entry';
import { mergeById } from '../src/history';
import { NamespaceKeys } from '../src/keys';
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
  expect(compareStreamIds('0-0', '1-0')).toBeLessThan(0);
  expect(compareStreamIds('18446744073709551615-1', '18446744073709551614-9')).toBeGreaterThan(0);
});

test('every key of a namespace carries its hash tag; topics cannot collide with the other keys', () => {
  const keys = new NamespaceKeys('tenant-1');
  expect(keys.meta).toBe('ssekit:{tenant-1}:meta');
  expect(keys.untargeted).toBe('ssekit:{tenant-1}:all');
  expect(keys.topic('all')).toBe('ssekit:{tenant-1}:t:all');
  expect(keys.topic('a{b}')).toBe('ssekit:{tenant-1}:t:a{b}');
  expect(keys.topicOf(keys.topic('x:y'))).toBe('x:y');
  expect(keys.topicOf(keys.meta)).toBeUndefined();
  expect(new NamespaceKeys('a*b').topicPattern()).toBe('ssekit:{a\\*b}:t:*');
});

test('an entry stores the encoded body; readers put the id line in front of it', () => {
  const body = encodeBody({ id: 'ignored', event: 'tick', data: 'a\r\nb', retry: 10 });
  expect(body).toBe('event: tick\nretry: 10\ndata: a\ndata: b\n\n');
  const { entries: [decoded], last } = decodePage(['7-1', '7-1', body]);
  expect(last).toBe('7-1');
  expect(decoded!.id).toBe('7-1');
  expect(decoded!.bytes.toString()).toBe('id: 7-1\nevent: tick\nretry: 10\ndata: a\ndata: b\n\n');
  expect(decoded!.event).toEqual({ id: '7-1', event: 'tick', retry: 10, data: 'a\nb' });
  expect(new StreamEntry('1-1', '\n').event).toEqual({ id: '1-1' });
  expect(new StreamEntry('1-1', 'data: \n\n').event).toEqual({ id: '1-1', data: '' });
});

test('a page without entries of this layout still says how far it read', () => {
  expect(decodePage(['9-9'])).toEqual({ entries: [], last: '9-9' });
  expect(decodePage([''])).toEqual({ entries: [], last: undefined });
  expect(decodePage([])).toEqual({ entries: [], last: undefined });
});

test('an announcement is the wire form; its id is read from the bytes', () => {
  expect(announcedId(Buffer.from('id: 12-3\ndata: x\n\n'))).toBe('12-3');
  expect(announcedId(Buffer.from('data: x\n\n'))).toBeUndefined();
  expect(announcedId(Buffer.from('id: 12-3'))).toBeUndefined();
});

test('replays share decoded entries through the cache, and per-stream lists merge in id order', () => {
  const cache = new EntryCache(2);
  const [a] = decodePage(['1-1', '1-1', 'data: a\n\n'], cache).entries;
  const [again] = decodePage(['1-1', '1-1', 'data: a\n\n'], cache).entries;
  expect(again).toBe(a);
  expect(again!.bytes).toBe(a!.bytes);
  // Same id with another body (a history that started again) is not mistaken for it.
  const [other] = decodePage(['1-1', '1-1', 'data: b\n\n'], cache).entries;
  expect(other).not.toBe(a);
  expect(other!.event.data).toBe('b');
  const e = (id: string) => new StreamEntry(id, '\n');
  expect(mergeById([[e('1-0'), e('3-0'), e('10-0')], [], [e('2-0'), e('3-1')], [e('9-9')]]).map((x) => x.id)).toEqual(['1-0', '2-0', '3-0', '3-1', '9-9', '10-0']);
});
