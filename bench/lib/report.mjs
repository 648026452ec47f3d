/**
 * Turns a result object into the stdout table, the markdown table, the SVG chart and the
 * list of target checks. No dependencies: the SVG is written by hand.
 */

const SSEKIT = ['core-http', 'express', 'fastify', 'koa'];
/** The raw server each ssekit server is held against: raw writes behind the same framework. */
const BASELINE = { 'core-http': 'raw-http', express: 'raw-express', fastify: 'raw-fastify', koa: 'raw-koa' };
/** The Fetch lanes: on each runtime, @ssekit/fetch and its peers against a raw ReadableStream loop. */
const FETCH_RUNTIMES = ['node', 'bun', 'deno'];
for (const rt of FETCH_RUNTIMES) {
  for (const s of [`fetch-${rt}`, `hono-streamsse-${rt}`, `better-sse-fetch-${rt}`]) BASELINE[s] = `raw-stream-${rt}`;
}
const CAPACITY_CELLS = ['1000x50'];
const OVERLOAD_CELLS = ['1000x200', '5000x100'];
/** Cells where the coalescing lane is held against raw's throughput. */
const COALESCE_OVERLOAD_CELLS = ['5000x200'];

const num = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-');
const kilo = (x) => (Number.isFinite(x) ? (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`) : '-');

const med = (result, cell, server) => result.cells[cell]?.[server]?.median ?? undefined;

export function evaluateTargets(result) {
  const checks = [];
  const add = (target, cell, server, against, value, limit, pass, note) =>
    checks.push({ target, cell, server, against, value, limit, pass, ...(note ? { note } : {}) });
  const servers = result.options.servers;
  for (const cell of result.options.cells) {
    const raw = med(result, cell, 'raw-http');
    const bsse = med(result, cell, 'better-sse');
    for (const s of SSEKIT) {
      const me = med(result, cell, s);
      if (!me) continue;
      const base = med(result, cell, BASELINE[s]);
      if (base && CAPACITY_CELLS.includes(cell)) {
        const ratio = me.cpuPerMillion / base.cpuPerMillion;
        add('cpu per delivered event <= 1.1x raw', cell, s, BASELINE[s], ratio, 1.1, ratio <= 1.1);
      }
      if (base && OVERLOAD_CELLS.includes(cell)) {
        add('sent/scheduled >= raw', cell, s, BASELINE[s], me.sentRatio, base.sentRatio, me.sentRatio >= base.sentRatio);
        add('p99 latency from schedule <= raw', cell, s, BASELINE[s], me.p99, base.p99, me.p99 <= base.p99);
      }
      if (bsse) {
        add('cpu per delivered event <= better-sse', cell, s, 'better-sse', me.cpuPerMillion, bsse.cpuPerMillion, me.cpuPerMillion <= bsse.cpuPerMillion);
        if (raw && bsse.deliveredPerSec < 0.98 * raw.deliveredPerSec) {
          const want = 1.3 * bsse.deliveredPerSec;
          const note = want > raw.deliveredPerSec ? `1.3x better-sse is above raw's ${kilo(raw.deliveredPerSec)}/s` : undefined;
          add('delivered/s >= 1.3x better-sse (where it trails raw)', cell, s, 'better-sse', me.deliveredPerSec, want, me.deliveredPerSec >= want, note);
        }
      }
    }
    // The coalescing lane: a window of 20 ms against one write per event.
    const window = med(result, cell, 'core-http-c20');
    if (window && raw && COALESCE_OVERLOAD_CELLS.includes(cell)) {
      add('coalesceMs 20: delivered/s >= 3x raw', cell, 'core-http-c20', 'raw-http', window.deliveredPerSec, 3 * raw.deliveredPerSec, window.deliveredPerSec >= 3 * raw.deliveredPerSec);
      add('coalesceMs 20: cpu per delivered event <= raw', cell, 'core-http-c20', 'raw-http', window.cpuPerMillion, raw.cpuPerMillion, window.cpuPerMillion <= raw.cpuPerMillion);
      add('coalesceMs 20: p99 latency <= 0.5x raw', cell, 'core-http-c20', 'raw-http', window.p99, 0.5 * raw.p99, window.p99 <= 0.5 * raw.p99);
    }
    if (window && raw && /b\d+$/.test(cell)) {
      add('coalesceMs 20, bursts: cpu per delivered event <= 0.5x raw', cell, 'core-http-c20', 'raw-http', window.cpuPerMillion, 0.5 * raw.cpuPerMillion, window.cpuPerMillion <= 0.5 * raw.cpuPerMillion);
    }
  }
  for (const cell of result.options.cells) {
    for (const rt of FETCH_RUNTIMES) {
      const me = med(result, cell, `fetch-${rt}`);
      if (!me) continue;
      const base = med(result, cell, `raw-stream-${rt}`);
      if (base) {
        const ratio = me.cpuPerMillion / base.cpuPerMillion;
        add('cpu per delivered event <= 1.2x the raw ReadableStream loop', cell, `fetch-${rt}`, `raw-stream-${rt}`, ratio, 1.2, ratio <= 1.2);
      }
      for (const peer of [`hono-streamsse-${rt}`, `better-sse-fetch-${rt}`]) {
        const other = med(result, cell, peer);
        if (!other) continue;
        add('cpu per delivered event <= peer', cell, `fetch-${rt}`, peer, me.cpuPerMillion, other.cpuPerMillion, me.cpuPerMillion <= other.cpuPerMillion);
        if (base && other.deliveredPerSec < 0.98 * base.deliveredPerSec) {
          add('delivered/s >= peer (where it trails raw)', cell, `fetch-${rt}`, peer, me.deliveredPerSec, other.deliveredPerSec, me.deliveredPerSec >= other.deliveredPerSec);
        }
      }
    }
  }
  for (const s of SSEKIT) {
    const me = result.memory?.[s];
    const base = result.memory?.[BASELINE[s]];
    if (me && base && !me.error && !base.error) {
      const note = me.connections < 10_000 ? 'under 10,000 streams RSS per stream is dominated by heap-growth steps; compare heap' : undefined;
      add('RSS per idle connection <= raw + 2 KB', 'memory', s, BASELINE[s], me.rssPerConnKB, base.rssPerConnKB + 2, me.rssPerConnKB <= base.rssPerConnKB + 2, note);
    }
  }
  void servers;
  return checks;
}

const COLUMNS = [
  ['server', (m, r) => r.name],
  ['delivered/s', (m) => kilo(m.deliveredPerSec)],
  ['delivered', (m) => pct(m.deliveredRatio)],
  ['sent/sched', (m) => pct(m.sentRatio)],
  ['cpu-s per 1M', (m) => num(m.cpuPerMillion, 2)],
  ['x raw', (m, r) => (r.raw ? num(m.cpuPerMillion / r.raw.cpuPerMillion, 2) : '-')],
  ['user part', (m) => num(m.userPerMillion, 2)],
  ['send lag p99', (m) => num(m.sendLagP99)],
  ['p50 ms', (m) => num(m.p50)],
  ['p99 ms', (m) => num(m.p99)],
  ['max ms', (m) => num(m.max)],
  ['srv RSS MB', (m) => num(m.serverRssMB, 0)],
  ['closed', (m) => String(Math.round(m.closedEarly ?? 0))],
  ['client ELU', (m) => num(m.clientEluMax, 2)],
];

function rows(result, cell) {
  return result.options.servers.map((name) => {
    const entry = result.cells[cell][name];
    const m = entry?.median;
    const raw = med(result, cell, BASELINE[name] ?? (name.startsWith('raw-') ? undefined : 'raw-http')) ?? (name === 'better-sse' ? med(result, cell, 'raw-http') : undefined);
    if (!m) return [name, `failed (${entry?.runs?.[0]?.error ?? 'no result'})`];
    return COLUMNS.map(([, f]) => f(m, { name, raw }));
  });
}

function memoryRows(result) {
  return result.options.servers
    .filter((s) => result.memory?.[s])
    .map((s) => {
      const m = result.memory[s];
      if (m.error) return [s, `failed (${m.error})`];
      return [s, String(m.connections), num(m.baseRssMB, 0), num(m.rssMB, 0), num(m.rssPerConnKB, 2), num(m.heapPerConnKB, 2), num(m.externalPerConnKB, 2)];
    });
}
const MEMORY_HEAD = ['server', 'idle conns', 'base RSS MB', 'RSS MB', 'RSS KB/conn', 'heap KB/conn', 'external KB/conn'];

function textTable(head, body) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function mdTable(head, body) {
  const esc = (c) => String(c ?? '').replaceAll('|', '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function describe(result) {
  const o = result.options;
  return `${o.runs} run(s) per cell, median shown; ${o.duration} s measured (+${o.warmup} s warm-up) per run; node ${result.machine.node}, ${result.machine.cpus} CPUs (${result.machine.model}).`;
}

function targetLines(result, bullet) {
  return result.targets.map((t) => {
    const v = /^cpu per delivered event <= 1\.\dx/.test(t.target) ? `${num(t.value, 2)}x` : t.target.includes('sent') ? `${pct(t.value)} vs ${pct(t.limit)}` : t.target.includes('delivered/s') ? `${kilo(t.value)}/s vs ${kilo(t.limit)}/s` : `${num(t.value, 2)} vs ${num(t.limit, 2)}`;
    return `${bullet}${t.pass ? 'PASS' : 'FAIL'}  ${t.cell}  ${t.server} vs ${t.against}: ${t.target} (${v})${t.note ? ` [${t.note}]` : ''}`;
  });
}

/** N, M and the burst B of a cell key `NxM` or `NxMbB`; `undefined` for anything else. */
export function parseCell(cell) {
  const match = /^(\d+)x(\d+)(?:b(\d+))?$/.exec(cell);
  return match ? { n: Number(match[1]), m: Number(match[2]), burst: Number(match[3] ?? 1), key: cell } : undefined;
}

/** {@link parseCell} of a key this run measured. */
function parseCellKey(cell) {
  return parseCell(cell) ?? { n: NaN, m: NaN, burst: 1, key: cell };
}

/** Deliveries a second a cell asks for: N x M. */
const expectedRate = (cell) => {
  const { n, m } = parseCellKey(cell);
  return n * m;
};

export function renderTable(result) {
  const head = COLUMNS.map(([h]) => h);
  const out = [describe(result)];
  for (const cell of result.options.cells) {
    const { n, m, burst } = parseCellKey(cell);
    const bursts = burst > 1 ? ` in bursts of ${burst}` : '';
    out.push('', `N=${n} connections, M=${m} events/s${bursts} (expected ${kilo(n * m)} deliveries/s)`, textTable(head, rows(result, cell)));
  }
  if (Object.keys(result.memory ?? {}).length) out.push('', 'Idle connections (memory minus the same server with none)', textTable(MEMORY_HEAD, memoryRows(result)));
  if (result.targets.length) out.push('', 'Targets', ...targetLines(result, '  '));
  return out.join('\n');
}

export function renderMarkdown(result) {
  const head = COLUMNS.map(([h]) => h);
  const out = [
    '<!-- Generated by `pnpm bench` (bench/run.mjs); do not edit by hand. -->',
    `Broadcast of a ~100-byte JSON event to N open streams at M events/s, every server in its own process on one machine, load from separate client processes. ${describe(result)}`,
    '',
    'Columns: events/s reaching the clients inside the measured window; delivered/expected (events sent x streams); events sent by the end of the window / scheduled; server CPU seconds (user+system) per million deliveries, as a multiple of the raw server behind the same framework (better-sse: of raw node:http), and its user-space part (JavaScript; the rest is kernel time, mostly the loopback TCP send); server send lag (actual minus scheduled send time, p99); latency from each event\'s *scheduled* send time to its parsing in the client; server RSS; the busiest client process\'s event-loop utilization (near 1.0 means the client, not the server, was the limit).',
    '',
    `Command: \`${result.command}\``,
  ];
  for (const cell of result.options.cells) {
    const { n, m, burst } = parseCellKey(cell);
    out.push('', `#### N = ${n} streams, M = ${m} events/s${burst > 1 ? ` in bursts of ${burst}` : ''}`, '', mdTable(head, rows(result, cell)));
  }
  if (Object.keys(result.memory ?? {}).length) out.push('', '#### Idle streams', '', mdTable(MEMORY_HEAD, memoryRows(result)));
  if (result.targets.length) out.push('', '#### Targets', '', ...targetLines(result, '- '));
  return out.join('\n') + '\n';
}

const PALETTE = {
  'raw-http': '#6b7280', 'raw-express': '#9ca3af', 'raw-fastify': '#a8a29e', 'raw-koa': '#d1d5db',
  'core-http': '#2563eb', 'core-http-c20': '#0ea5e9', express: '#059669', fastify: '#7c3aed', koa: '#d97706', 'better-sse': '#dc2626',
};

const xml = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** One grouped bar panel: a group per cell, a bar per server. */
function panel({ x, y, width, height, title, cells, servers, value, label, log, unit, format, cellLabel, fixedMax, fixedTicks }) {
  const parts = [];
  const left = 64;
  const plotW = width - left - 16;
  const plotH = height - 64;
  const top = y + 34;
  const values = cells.flatMap((c) => servers.map((s) => value(c, s))).filter((v) => Number.isFinite(v) && v > 0);
  const maxV = fixedMax ?? (values.length ? Math.max(...values) * 1.08 : 1);
  const minV = log ? Math.max(Math.min(...values, maxV) / 2, 0.05) : 0;
  const lo = log ? Math.floor(Math.log10(minV)) : 0;
  const hi = log ? Math.ceil(Math.log10(maxV)) : 0;
  const scale = (v) => {
    if (!Number.isFinite(v) || v <= 0) return 0;
    if (log) return Math.max(0, Math.min(plotH, ((Math.log10(v) - lo) / (hi - lo || 1)) * plotH));
    return Math.min(plotH, (v / maxV) * plotH);
  };
  parts.push(`<text x="${x + left}" y="${y + 18}" font-size="14" font-weight="600">${xml(title)}</text>`);
  const ticks = fixedTicks ?? (log ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxV));
  for (const t of ticks) {
    const ty = top + plotH - scale(t || 0);
    parts.push(`<line x1="${x + left}" x2="${x + left + plotW}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${x + left - 6}" y="${(ty + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#374151">${xml(format(t))}</text>`);
  }
  parts.push(`<text x="${x + 14}" y="${top + plotH / 2}" font-size="10" fill="#374151" transform="rotate(-90 ${x + 14} ${top + plotH / 2})" text-anchor="middle">${xml(unit)}</text>`);
  const groupW = plotW / cells.length;
  const barW = Math.max(3, Math.min(22, (groupW - 16) / servers.length));
  cells.forEach((cell, ci) => {
    const gx = x + left + ci * groupW + (groupW - barW * servers.length) / 2;
    servers.forEach((s, si) => {
      const v = value(cell, s);
      const h = scale(v);
      const bx = gx + si * barW;
      const cx = bx + (barW - 1) / 2;
      if (Number.isFinite(v)) {
        parts.push(`<rect x="${bx.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[s] ?? '#000'}"><title>${xml(`${s} ${cell}: ${label(cell, s)}`)}</title></rect>`);
        if (barW >= 9) {
          const ty = top + plotH - h - 4;
          parts.push(`<text x="${cx.toFixed(1)}" y="${ty.toFixed(1)}" font-size="9" fill="#111827" transform="rotate(-90 ${cx.toFixed(1)} ${ty.toFixed(1)})" dominant-baseline="middle">${xml(label(cell, s))}</text>`);
        }
      } else {
        parts.push(`<text x="${cx.toFixed(1)}" y="${top + plotH - 3}" font-size="9" text-anchor="middle" fill="#dc2626">x</text>`);
      }
    });
    parts.push(`<text x="${(x + left + ci * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16}" font-size="11" text-anchor="middle">${xml(cellLabel(cell))}</text>`);
  });
  parts.push(`<line x1="${x + left}" x2="${x + left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#111827"/>`);
  return parts.join('\n');
}

export function renderSvg(result) {
  const cells = result.options.cells;
  const servers = result.options.servers;
  const width = Math.max(960, 96 + cells.length * (servers.length * 22 + 28));
  const panelH = 300;
  const perRow = 2;
  const legendH = 16 + Math.ceil(servers.length / perRow) * 20;
  const height = 64 + panelH * 2 + legendH;
  const m = (cell, s) => med(result, cell, s);
  const expected = expectedRate;
  const o = result.options;
  const body = [
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="17" font-weight="700">ssekit broadcast benchmark: N streams x M events/s of ~100-byte JSON</text>`,
    `<text x="16" y="44" font-size="12" fill="#374151">${xml(`median of ${o.runs} run(s) x ${o.duration} s per cell; ${result.machine.cpus} CPUs, node ${result.machine.node}; servers, clients and load generator on one machine`)}</text>`,
    panel({
      x: 0, y: 56, width, height: panelH, cells, servers, log: false, fixedMax: 1.3, fixedTicks: [0, 0.25, 0.5, 0.75, 1, 1.25],
      title: 'Throughput: delivered events/s as a share of N x M (higher is better; bar labels in events/s)',
      value: (cell, s) => m(cell, s)?.deliveredPerSec / expected(cell),
      label: (cell, s) => kilo(m(cell, s)?.deliveredPerSec),
      unit: 'share of N x M', format: (t) => `${Math.round(t * 100)}%`,
      cellLabel: (cell) => `${cell} (${kilo(expected(cell))}/s)`,
    }),
    panel({
      x: 0, y: 56 + panelH, width, height: panelH, cells, servers, log: true,
      title: 'p99 latency from the scheduled send time (lower is better, log scale)',
      value: (cell, s) => m(cell, s)?.p99,
      label: (cell, s) => `${num(m(cell, s)?.p99, m(cell, s)?.p99 < 10 ? 1 : 0)} ms`,
      unit: 'ms', format: (t) => (t >= 1 ? String(Math.round(t)) : String(t)),
      cellLabel: (cell) => cell,
    }),
  ];
  const colW = Math.floor((width - 32) / perRow);
  servers.forEach((s, i) => {
    const lx = 16 + (i % perRow) * colW;
    const ly = 56 + panelH * 2 + 18 + Math.floor(i / perRow) * 20;
    body.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[s] ?? '#000'}"/><text x="${lx + 18}" y="${ly}" font-size="12">${xml(`${s}: ${result.labels?.[s] ?? s}`)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">\n${body.join('\n')}\n</svg>\n`;
}
