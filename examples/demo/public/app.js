// @ts-check
/**
 * The demo page: plain browser JavaScript on `@ssekit/client`, no framework, no build. The
 * client is the package's own ESM build, which the server serves at /vendor/ssekit-client/ and
 * index.html maps to the name `@ssekit/client`.
 *
 * Typed events: the stream is `connect<DemoEvents>()` (the map in ../events.d.ts), so
 * `stream.on('tick', (tick) => ...)` knows `tick.quotes`, and `npm run typecheck` checks this
 * file against it.
 *
 * Start-up without a race: the page loads a snapshot (`GET /state`), which comes with the id of
 * the last event it includes, and opens the stream with `lastEventId: <that id>` (sent as the
 * `Last-Event-ID` header). The server replays every event after the snapshot, so nothing falls
 * between the two and nothing is applied twice.
 *
 * Reconnects are the client's: when the stream ends (the "Drop connection" button asks the
 * server to close it), @ssekit/client waits about the `retry:` delay the server sent (1 s, half
 * of it random so that pages do not all come back at once) and reconnects with the last id.
 * ssekit replays the missed events first, then live ones follow.
 *
 * How the page tells replayed events from live ones. Each broadcast carries `n`, a number the
 * server increments for every broadcast. Right after a stream is registered and its replay
 * written, the server sends a `hello` event (without an id) whose `liveAfter` is the last `n`
 * broadcast *before* the stream was registered. So between `open` and `hello`:
 *   - an event with `n <= liveAfter` was broadcast while this page was not connected: it can
 *     only have come from the replay, and is marked "replayed";
 *   - an event with `n > liveAfter` was broadcast after registration: it is live (it may have
 *     waited in the connection's queue while the replay was written).
 * Events after `hello` are live. Rows are labelled "…" until `hello` decides, which takes
 * milliseconds. This needs no clock agreement between browser and server, and no knowledge
 * of the id format.
 *
 * When the server cannot replay (the id is unknown, too old, or from before a restart), it
 * sends `event: ssekit-reset` instead of guessing; the client reports it as `gap`. The page
 * shows the gap and reloads the snapshot.
 */
import { connect } from '@ssekit/client';

/** @typedef {import('../events').DemoEvents} DemoEvents */
/** @typedef {import('@ssekit/client').SseMessage<DemoEvents>} Message */

const LOG_ROWS = 250;
const CHAT_ROWS = 50;
const SPARK_POINTS = 40;

const params = new URLSearchParams(location.search);
const topics = (params.get('topics') ?? 'ticker,chat')
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean);

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const ui = {
  status: $('status'),
  statusText: $('status-text'),
  drop: /** @type {HTMLButtonElement} */ ($('drop')),
  gap: $('gap'),
  gapNotice: $('gap-notice'),
  quotes: $('quotes'),
  messages: $('messages'),
  form: $('chat-form'),
  name: /** @type {HTMLInputElement} */ ($('chat-name')),
  text: /** @type {HTMLInputElement} */ ($('chat-text')),
  log: $('log'),
  counts: $('counts'),
};
$('topics').textContent = topics.join(', ') || '(none)';

const state = {
  /** @type {import('@ssekit/client').EventStream<DemoEvents> | null} The current stream; events from an older one are ignored. */
  stream: null,
  /** @type {string | null} This stream's id on the server, from `hello`; needed to ask for a drop. */
  client: null,
  /** @type {{ row: HTMLElement, n: number }[] | null} Rows received since `open`, waiting for `hello` to say whether they were replayed. */
  pending: null,
  opened: 0,
  lastTickN: 0,
  /** @type {Map<string, number[]>} Price history per symbol, for the sparklines. */
  history: new Map(),
  /** @type {Map<number, DemoEvents['chat']>} */
  chat: new Map(),
  /** @type {Set<number>} */
  seen: new Set(),
  counts: { events: 0, replayed: 0, duplicates: 0 },
};

// ---------------------------------------------------------------------------------------------
// The stream

/** `connect<DemoEvents>`: what plain JavaScript writes for a type argument. */
const connectTyped = /** @type {typeof connect<DemoEvents>} */ (connect);

/** @param {string | null} resumeAfter - the id to resume after (a snapshot's), if any */
function start(resumeAfter) {
  state.stream?.close();
  const url = new URL('events', location.href);
  url.searchParams.set('topics', topics.join(','));
  const stream = connectTyped(url, { lastEventId: resumeAfter ?? undefined });
  state.stream = stream;
  setClient(null);
  setStatus(state.opened > 0 ? 'reconnecting' : 'connecting');
  const current = () => stream === state.stream;

  stream.on('open', () => {
    if (!current()) return;
    state.opened++;
    state.pending = [];
    setStatus('open');
  });

  stream.on('error', (error, info) => {
    if (!current()) return;
    const wasOpen = ui.status.dataset.state === 'open';
    setClient(null);
    state.pending = null;
    if (info.willRetry) {
      setStatus('reconnecting');
      const after = stream.lastEventId ?? '(none)';
      const why = wasOpen ? 'Stream lost' : `Still unreachable (${error.message})`;
      logSystem(`${why}. Reconnecting in ${info.delayMs} ms (attempt ${info.attempt}) with Last-Event-ID ${after}.`);
    } else {
      // A 4xx, or not an event stream: the client stops; so does the page.
      setStatus('closed');
      logSystem(`Stream refused: ${error.message}. Reload the page to try again.`, 'gap');
    }
  });

  stream.on('tick', (tick, meta) => current() && receive(meta, () => renderTick(tick)));
  stream.on('chat', (message, meta) => current() && receive(meta, () => addChat(message)));
  stream.on('hello', (info) => current() && hello(info));
  stream.on('gap', () => current() && reset());
}

/**
 * One broadcast: log it, classify it, apply it.
 * @param {Message} message
 * @param {() => void} apply
 */
function receive(message, apply) {
  const { n } = /** @type {{ n: number }} */ (message.data);
  const duplicate = state.seen.has(n);
  state.seen.add(n);
  state.counts.events++;
  if (duplicate) state.counts.duplicates++;

  const row = logEvent(message, duplicate);
  if (state.pending) {
    // Between `open` and `hello`: decided when `hello` arrives.
    state.pending.push({ row, n });
    setBadge(row, 'pending');
  } else {
    setBadge(row, 'live');
  }
  if (!duplicate) apply();
  renderCounts();
}

/** @param {DemoEvents['hello']} info */
function hello(info) {
  let replayed = 0;
  for (const { row, n } of state.pending ?? []) {
    const wasReplayed = typeof n === 'number' && n <= info.liveAfter;
    setBadge(row, wasReplayed ? 'replayed' : 'live');
    if (wasReplayed) replayed++;
  }
  state.pending = null;
  state.counts.replayed += replayed;
  renderCounts();
  setClient(info.client);

  const events = `${replayed} missed event${replayed === 1 ? '' : 's'}`;
  if (info.gap) {
    logSystem(`Connected as ${info.client}, but events after ${info.resumedAfter} could not be replayed.`, 'gap');
  } else if (state.opened === 1) {
    logSystem(`Connected as ${info.client}, resuming after snapshot ${info.resumedAfter ?? '(empty)'}: ${events} replayed.`);
  } else {
    logSystem(`Reconnected as ${info.client} after ${info.resumedAfter ?? '(none)'}: ${events} replayed, then live.`, 'resume');
  }
}

async function reset() {
  ui.gapNotice.hidden = false;
  logSystem('ssekit-reset: the server no longer has the missed events. Reloading the snapshot.', 'gap');
  await loadSnapshot().catch((error) => logSystem(`Snapshot failed: ${error.message}`, 'gap'));
}

async function loadSnapshot() {
  const response = await fetch('state', { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET /state answered ${response.status}`);
  const snapshot = await response.json();
  if (topics.includes('ticker') && snapshot.tick && snapshot.tick.n > state.lastTickN) renderTick(snapshot.tick);
  if (topics.includes('chat')) for (const message of snapshot.chat) addChat(message);
  return snapshot;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function setStatus(value) {
  ui.status.dataset.state = value;
  ui.statusText.textContent = value;
}

function setClient(client) {
  state.client = client;
  ui.drop.disabled = client === null;
}

function renderTick(tick) {
  if (tick.n <= state.lastTickN) return;
  state.lastTickN = tick.n;
  ui.quotes.querySelector('.empty')?.remove();
  for (const quote of tick.quotes) {
    let card = /** @type {HTMLElement | null} */ (ui.quotes.querySelector(`[data-symbol="${quote.symbol}"]`));
    if (!card) {
      card = document.createElement('article');
      card.className = 'quote';
      card.dataset.symbol = quote.symbol;
      card.innerHTML =
        '<header><span class="symbol"></span><span class="change"></span></header>' +
        '<div class="price"></div>' +
        '<svg viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true"><polyline /></svg>';
      card.querySelector('.symbol').textContent = quote.symbol;
      ui.quotes.append(card);
    }
    const history = state.history.get(quote.symbol) ?? [];
    const previous = history.at(-1);
    history.push(quote.price);
    if (history.length > SPARK_POINTS) history.shift();
    state.history.set(quote.symbol, history);

    card.querySelector('.price').textContent = quote.price.toFixed(2);
    const change = card.querySelector('.change');
    change.textContent = `${quote.change >= 0 ? '▲' : '▼'} ${Math.abs(quote.change).toFixed(2)}%`;
    card.dataset.trend = quote.change >= 0 ? 'up' : 'down';
    card.querySelector('polyline').setAttribute('points', sparkline(history));
    if (previous !== undefined && previous !== quote.price) {
      card.classList.remove('flash-up', 'flash-down');
      void card.offsetWidth; // restart the animation
      card.classList.add(quote.price > previous ? 'flash-up' : 'flash-down');
    }
  }
}

function sparkline(values) {
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = values.length > 1 ? 100 / (SPARK_POINTS - 1) : 0;
  const offset = 100 - (values.length - 1) * step;
  return values.map((v, i) => `${(offset + i * step).toFixed(1)},${(28 - ((v - min) / span) * 26).toFixed(1)}`).join(' ');
}

function addChat(message) {
  if (state.chat.has(message.n)) return;
  state.chat.set(message.n, message);
  const item = document.createElement('li');
  item.dataset.n = String(message.n);
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${message.name} · ${clock(message.at)}`;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = message.text;
  item.append(meta, text);
  // Keep the feed in broadcast order even when a snapshot and the stream overlap.
  const after = [...ui.messages.querySelectorAll('li')].find((li) => Number(li.dataset.n) > message.n);
  ui.messages.insertBefore(item, after ?? null);
  while (ui.messages.children.length > CHAT_ROWS) ui.messages.firstElementChild.remove();
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/**
 * @param {Message} message
 * @param {boolean} duplicate
 */
function logEvent(message, duplicate) {
  const { topic, n } = /** @type {import('../events').Stamp} */ (message.data);
  const id = message.lastEventId ?? '';
  const row = document.createElement('tr');
  row.className = 'event';
  row.dataset.id = id;
  row.dataset.event = message.event;
  row.dataset.topic = topic;
  row.dataset.n = String(n);
  if (duplicate) row.classList.add('duplicate');
  for (const text of [clock(Date.now()), id, message.event, topic, n, '']) {
    const cell = document.createElement('td');
    cell.textContent = String(text);
    row.append(cell);
  }
  return prependRow(row);
}

function logSystem(text, kind = 'info') {
  const row = document.createElement('tr');
  row.className = `system ${kind}`;
  const time = document.createElement('td');
  time.textContent = clock(Date.now());
  const message = document.createElement('td');
  message.colSpan = 5;
  message.textContent = text;
  row.append(time, message);
  prependRow(row);
}

function prependRow(row) {
  ui.log.prepend(row);
  while (ui.log.children.length > LOG_ROWS) ui.log.lastElementChild.remove();
  return row;
}

function setBadge(row, kind) {
  row.dataset.delivery = kind;
  row.classList.toggle('replayed', kind === 'replayed');
  const cell = row.lastElementChild;
  cell.innerHTML = '';
  const badge = document.createElement('span');
  badge.className = `badge ${kind}`;
  badge.textContent = kind === 'pending' ? '…' : kind;
  cell.append(badge);
}

function renderCounts() {
  const { events, replayed, duplicates } = state.counts;
  ui.counts.textContent = `${events} events · ${replayed} replayed · ${duplicates} duplicates`;
}

function clock(ms) {
  const d = new Date(ms);
  const pad = (v, n = 2) => String(v).padStart(n, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// ---------------------------------------------------------------------------------------------
// Controls

ui.drop.addEventListener('click', async () => {
  if (!state.client) return;
  const client = state.client;
  setClient(null);
  logSystem(`Asked the server to drop stream ${client}.`);
  const response = await fetch(`drop?client=${encodeURIComponent(client)}`, { method: 'POST' }).catch(() => null);
  if (!response?.ok) logSystem('The server did not drop the stream (already gone?).');
});

ui.gap.addEventListener('click', () => {
  logSystem('Reconnecting after an id this server never issued, as after a restart.');
  start('from-a-previous-server');
});

$('gap-dismiss').addEventListener('click', () => {
  ui.gapNotice.hidden = true;
});

try {
  ui.name.value = localStorage.getItem('ssekit-demo-name') ?? '';
} catch {
  // Storage may be disabled; the name is then simply not remembered.
}

ui.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = ui.name.value.trim();
  const text = ui.text.value.trim();
  if (!text) return;
  try {
    localStorage.setItem('ssekit-demo-name', name);
  } catch {
    // See above.
  }
  const response = await fetch('chat', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, text }),
  }).catch(() => null);
  if (response?.ok) ui.text.value = '';
  else logSystem(`Sending failed${response ? ` (${response.status})` : ''}.`, 'gap');
});

// ---------------------------------------------------------------------------------------------
// Start: snapshot first, then the stream from the snapshot's id.

renderCounts();
const snapshot = await loadSnapshot().catch(() => null);
start(snapshot?.lastEventId ?? null);
