/**
 * The Lua scripts that make a namespace's history consistent: each runs atomically on the
 * namespace's primary, so an id, its stream entry and its announcement happen in one step.
 *
 * Gap bookkeeping lives in each stream's own `max-deleted-entry-id` (Redis 7.0): Redis raises
 * it on `XDEL`, and these scripts raise it when they trim (trimming alone does not), and set it
 * when a stream is created to `<now - ttlMs>-<2^64-1>`: a stream that expired took with it only
 * events older than that (it expires `ttlMs` after its newest event). "Is an event after id A
 * gone from this stream?" is then `max-deleted-entry-id > A`, one O(1) `XINFO STREAM`.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** Shared helpers: id comparison without number conversion (ids are 64-bit), reply fields. */
const PRELUDE = `
local function cmp(a, b)
  local da = string.find(a, '-', 1, true)
  local db = string.find(b, '-', 1, true)
  if da ~= db then return (da < db) and -1 or 1 end
  local ma, mb = string.sub(a, 1, da - 1), string.sub(b, 1, db - 1)
  if ma ~= mb then return (ma < mb) and -1 or 1 end
  local sa, sb = string.sub(a, da + 1), string.sub(b, db + 1)
  if #sa ~= #sb then return (#sa < #sb) and -1 or 1 end
  if sa ~= sb then return (sa < sb) and -1 or 1 end
  return 0
end
local function field(list, name)
  for i = 1, #list, 2 do
    if list[i] == name then return list[i + 1] end
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local EXPIRY_MARK = '-18446744073709551615'
-- Appends to out a stream's status and its entries after from, up to to, at most capacity of
-- them: 'skip' when the page is already full, 'more' when it filled it, 'done' otherwise. The
-- entries go flat, as the last id read then id, body pairs of the entries this package wrote
-- (layout 2), so the reply is small to decode. Returns what is left of the capacity.
local function page(out, key, from, to, capacity)
  if capacity <= 0 then
    out[#out + 1] = 'skip'
    out[#out + 1] = {}
    return capacity
  end
  local got = redis.call('XRANGE', key, '(' .. from, to, 'COUNT', capacity)
  local flat = {#got > 0 and got[#got][1] or ''}
  for _, entry in ipairs(got) do
    local fields = entry[2]
    local ours, body = false, nil
    for i = 1, #fields, 2 do
      if fields[i] == 'ssekit' then ours = fields[i + 1] == '2'
      elseif fields[i] == 'body' then body = fields[i + 1] end
    end
    if ours and body then
      flat[#flat + 1] = entry[1]
      flat[#flat + 1] = body
    end
  end
  out[#out + 1] = (#got == capacity) and 'more' or 'done'
  out[#out + 1] = flat
  return capacity - #got
end
`;

/**
 * Publish one event. KEYS: meta, stream. ARGV: body, maxLen, slack, ttlMs, announce ('1'/'0').
 *
 * The id comes from the namespace clock: Redis `TIME` in milliseconds, never behind the last id
 * (same millisecond or a clock that went back: the sequence goes up), nor behind the stream's own
 * newest id. A missing clock starts a new history (`origin`). The entry goes to the topic's stream with that explicit id, the
 * stream is trimmed to `maxLen` once it holds `maxLen + slack` (amortised, like `MAXLEN ~`,
 * but the newest trimmed id is recorded), its expiry is renewed, and the wire form of the event
 * is announced on the stream's shard channel. Returns the id.
 */
export const PUBLISH = `${PRELUDE}
local ms = now_ms()
local seq = 0
local clock = redis.call('HGET', KEYS[1], 'clock')
if clock then
  local d = string.find(clock, '-', 1, true)
  local cms = tonumber(string.sub(clock, 1, d - 1))
  if ms <= cms then
    ms = cms
    seq = tonumber(string.sub(clock, d + 1)) + 1
  end
end
local id = string.format('%.0f-%.0f', ms, seq)
local ttl = tonumber(ARGV[4])
local fresh = redis.call('EXISTS', KEYS[2]) == 0
local added = redis.pcall('XADD', KEYS[2], id, 'ssekit', '2', 'body', ARGV[1])
if type(added) == 'table' and added.err then
  -- The stream already holds an id at or after the clock (an entry added by hand, or a clock
  -- that was lost while the stream stayed): ids go past it, so they still increase everywhere.
  local top = field(redis.call('XINFO', 'STREAM', KEYS[2]), 'last-generated-id')
  local d = string.find(top, '-', 1, true)
  ms = tonumber(string.sub(top, 1, d - 1))
  id = string.format('%.0f-%.0f', ms, tonumber(string.sub(top, d + 1)) + 1)
  redis.call('XADD', KEYS[2], id, 'ssekit', '2', 'body', ARGV[1])
end
if clock then
  redis.call('HSET', KEYS[1], 'clock', id)
else
  redis.call('HSET', KEYS[1], 'clock', id, 'origin', id)
end
if fresh then
  if ms > ttl then
    redis.call('XSETID', KEYS[2], id, 'ENTRIESADDED', 1, 'MAXDELETEDID', string.format('%.0f', ms - ttl) .. EXPIRY_MARK)
  end
else
  local max_len = tonumber(ARGV[2])
  local len = redis.call('XLEN', KEYS[2])
  if len > max_len + tonumber(ARGV[3]) then
    local gone = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', len - max_len)
    redis.call('XTRIM', KEYS[2], 'MAXLEN', max_len)
    local info = redis.call('XINFO', 'STREAM', KEYS[2])
    local last = gone[#gone][1]
    if cmp(last, field(info, 'max-deleted-entry-id')) > 0 then
      redis.call('XSETID', KEYS[2], id, 'ENTRIESADDED', field(info, 'entries-added'), 'MAXDELETEDID', last)
    end
  end
end
redis.call('PEXPIRE', KEYS[2], ttl)
if ARGV[5] == '1' then
  redis.call('SPUBLISH', KEYS[2], 'id: ' .. id .. '\\n' .. ARGV[1])
end
return id
`;

/**
 * One page of a replay. KEYS: meta, then the streams. ARGV: after (the client's id), capacity
 * (entries this page may return), ttlMs, first ('1' on the first page), then `from`, `to` for
 * each stream (`to` may be '+': the clock).
 *
 * A gap when: no history (never published, or Redis lost it), the id is before the history's
 * origin or after its clock, a stream lost an entry after the id (`max-deleted-entry-id`), or a
 * stream is missing while its events after the id could have expired (now >= id time + ttlMs);
 * a stream that disappears between pages is a gap too. Otherwise: `ok`, the clock, then per
 * stream a status (`done`, `more`: the page filled up, `skip`: not read this page, `none`:
 * missing, nothing lost) and its entries.
 */
export const READ = `${PRELUDE}
local meta = redis.call('HMGET', KEYS[1], 'clock', 'origin')
local clock, origin = meta[1], meta[2]
local after = ARGV[1]
if not clock then return {'gap', 'no history'} end
if cmp(after, origin) < 0 then return {'gap', 'before the history'} end
if cmp(after, clock) > 0 then return {'gap', 'unknown id'} end
local capacity = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local first = ARGV[4] == '1'
local after_ms = tonumber(string.sub(after, 1, string.find(after, '-', 1, true) - 1))
local now = now_ms()
local out = {'ok', clock}
for i = 2, #KEYS do
  local key = KEYS[i]
  local from, to = ARGV[2 * i + 1], ARGV[2 * i + 2]
  if to == '+' then to = clock end
  if redis.call('EXISTS', key) == 0 then
    if not first or now >= after_ms + ttl then return {'gap', key} end
    out[#out + 1] = 'none'
    out[#out + 1] = {}
  else
    local deleted = field(redis.call('XINFO', 'STREAM', key), 'max-deleted-entry-id')
    if cmp(deleted, after) > 0 then return {'gap', key} end
    capacity = page(out, key, from, to, capacity)
  end
end
return out
`;

/**
 * One page of an instance's catch-up after its subscription broke. KEYS: meta, the untargeted
 * stream (its channel carries loss notices), then the streams to read. ARGV: known (the newest
 * id the instance knows was issued, or '0-0'), capacity, expired ('1' when the break lasted
 * long enough for events published during it to expire), to (the last id to read, '+' on the
 * first page: the clock), then `from` for each stream.
 *
 * First the history is checked against what the instance knows. A missing clock or a clock
 * behind `known` (Redis lost data, or a replica took over without the newest writes) means
 * ids up to `known` were handed out and are gone: the clock moves up to `known` and the origin
 * just after it (new ids come after every id handed out; those ids resume as gaps), `lost` records the newest id
 * known lost, and a `lost <id>` notice goes to every instance, so one that received less than
 * that closes its streams. An origin after `known` (a history that started again) records
 * `known` in `lost` the same way. Returns `restart` or `ok`, the clock, `lost` ('0-0' if none),
 * then per stream a status (`lost`: an entry after `from` is gone, plus the statuses of
 * {@link READ}) and its entries up to `to`.
 */
export const CATCH_UP = `${PRELUDE}
local known = ARGV[1]
local meta = redis.call('HMGET', KEYS[1], 'clock', 'origin', 'lost')
local clock, origin, lost = meta[1], meta[2], meta[3]
local status = 'ok'
if known ~= '0-0' then
  local behind = (not clock) or cmp(clock, known) < 0
  if behind or cmp(origin, known) > 0 then
    status = 'restart'
    if behind then
      -- The first new id is the one after known, and it is the new origin: every id handed out
      -- before (known included, whatever followed it is unknown) resumes as a gap.
      local d = string.find(known, '-', 1, true)
      clock = known
      redis.call('HSET', KEYS[1], 'clock', known, 'origin', string.sub(known, 1, d) .. string.format('%.0f', tonumber(string.sub(known, d + 1)) + 1))
    end
    if (not lost) or cmp(lost, known) < 0 then
      lost = known
      redis.call('HSET', KEYS[1], 'lost', lost)
      redis.call('SPUBLISH', KEYS[2], 'lost ' .. lost)
    end
  end
end
local capacity = tonumber(ARGV[2])
local expired = ARGV[3] == '1'
local to = ARGV[4]
if to == '+' then to = clock or '0-0' end
local out = {status, clock or '0-0', lost or '0-0'}
for i = 3, #KEYS do
  local key = KEYS[i]
  local from = ARGV[i + 2]
  if redis.call('EXISTS', key) == 0 then
    out[#out + 1] = expired and 'lost' or 'none'
    out[#out + 1] = {}
  else
    local deleted = field(redis.call('XINFO', 'STREAM', key), 'max-deleted-entry-id')
    local gone = cmp(deleted, from) > 0
    -- A creation mark only tells of expired events, which a short break cannot have lost.
    if gone and string.sub(deleted, -#EXPIRY_MARK) == EXPIRY_MARK then gone = expired end
    if gone then
      out[#out + 1] = 'lost'
      out[#out + 1] = {}
    else
      capacity = page(out, key, from, to, capacity)
    end
  end
end
return out
`;

/**
 * A Lua script run by `EVALSHA`. The first call on a client sends the source (`EVAL`, which
 * also caches it on the server); a server that lacks it later (restarted, or a replica that took
 * over) answers `NOSCRIPT`, and the source is sent again.
 */
export class Script {
  readonly lua: string;
  readonly sha: string;
  /** Per client: loaded, or the first call that is loading it (others wait for it). */
  private readonly loaded = new WeakMap<Redis | Cluster, true | Promise<unknown>>();

  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script. On a Cluster, ioredis routes it by the first key's slot. */
  async run(client: Redis | Cluster, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const state = this.loaded.get(client);
    if (state === undefined) {
      // One EVAL sends the source; calls made meanwhile wait for it instead of each sending it.
      const first = client.eval(this.lua, keys.length, ...keys, ...args);
      this.loaded.set(client, first);
      try {
        const result = await first;
        this.loaded.set(client, true);
        return result;
      } catch (error) {
        this.loaded.delete(client);
        throw error;
      }
    }
    if (state !== true) await state.catch(() => undefined);
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
