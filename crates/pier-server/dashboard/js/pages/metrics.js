// Metrics: throughput, errors, delivery latency and queue depth over a window (15 min … 24 h),
// from `GET /metrics/summary?minutes=…` (one bucket per minute), redrawn every 5 s while live.
// The charts are inline SVG from ../charts.js.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api } from '../api.js';
import { emptyState, errorBox, segmented, spinner } from '../ui.js';
import { relTime, dateTime, plural } from '../format.js';
import { timeChart, barChart, sparkbars, compact, percent, duration, colorVar } from '../charts.js';

const WINDOWS = [
  { value: '15m', label: '15 min', minutes: 15, text: 'the last 15 minutes' },
  { value: '1h', label: '1 h', minutes: 60, text: 'the last hour' },
  { value: '6h', label: '6 h', minutes: 360, text: 'the last 6 hours' },
  { value: '24h', label: '24 h', minutes: 1440, text: 'the last 24 hours' },
];
const DEFAULT_WINDOW = '1h';
const POLL_MS = 5000;
const QUEUE_ROWS = 12;

const windowOf = (v) => WINDOWS.find((w) => w.value === v) || WINDOWS.find((w) => w.value === DEFAULT_WINDOW);

/** Failed attempts / attempts of a bucket (null when no attempt). */
const errorRate = (b) => (b.attempts ? b.failed_attempts / b.attempts : null);

/** How late (or early) the oldest queued delivery is, for a bar's note. */
function dueNote(q, now) {
  if (!q.oldest_due_at) return '';
  const late = now - Date.parse(q.oldest_due_at);
  if (late <= 5_000 && late >= -5_000) return 'due now';
  return late > 0 ? `oldest due ${relTime(q.oldest_due_at, now)}` : `next due ${relTime(q.oldest_due_at, now)}`;
}

function queueTone(q, now) {
  if (!q.oldest_due_at) return 'accent';
  const late = now - Date.parse(q.oldest_due_at);
  if (late > 10 * 60_000) return 'red';
  if (late > 60_000) return 'amber';
  return 'accent';
}

export default {
  id: 'metrics',
  title: 'Metrics',
  icon: 'metrics',
  mount(root, ctx) {
    let win = windowOf(ctx.query.get('window'));
    let live = true;
    let timer = null;
    let seq = 0;
    let destroyed = false;
    let data = null;

    // ----- head: window selector and live toggle -----
    const liveBtn = h('button.live', { type: 'button', 'data-testid': 'live-toggle', onclick: () => setLive(!live) });
    const drawLive = () => {
      liveBtn.className = 'live' + (live ? '' : ' paused');
      liveBtn.title = live ? `Pause live updates (every ${POLL_MS / 1000} s)` : 'Resume live updates';
      mount(liveBtn, h('span.live-dot'), h('span', live ? 'Live' : 'Paused'));
    };
    const winHost = h('div.mx-window', { 'data-testid': 'metrics-window' });
    const drawWindow = () =>
      mount(
        winHost,
        segmented(
          WINDOWS.map((w) => ({ value: w.value, label: w.label })),
          win.value,
          (v) => setWindow(v),
          { name: 'Time window' },
        ),
      );
    const updated = h('span.mx-updated');

    // ----- tiles -----
    const tile = (key, label, ic, color) => {
      const value = h('div.mx-tile-value', '—');
      const sub = h('div.mx-tile-sub', '\u00a0');
      const spark = h('div.mx-tile-spark');
      const el = h('div.card.mx-tile', { 'data-testid': `tile-${key}` }, h('div.mx-tile-label', h('span.mx-tile-icon', icon(ic)), label), value, sub, spark);
      el.style.setProperty('--c', colorVar(color));
      return { el, value, sub, spark, color };
    };
    const tiles = {
      requests: tile('requests', 'Requests', 'requests', 'accent'),
      events: tile('events', 'Events', 'events', 'green'),
      errors: tile('error-rate', 'Error rate', 'alert', 'red'),
      p50: tile('p50', 'Latency p50', 'clock', 'blue'),
      p99: tile('p99', 'Latency p99', 'clock', 'violet'),
    };
    const tilesRow = h('div.mx-tiles', Object.values(tiles).map((x) => x.el));

    // ----- charts -----
    const throughput = timeChart({
      testid: 'chart-throughput',
      label: 'Requests and events per minute',
      integer: true,
      format: compact,
      height: 230,
      series: [
        { key: 'requests', label: 'Requests', color: 'accent', kind: 'area' },
        { key: 'events', label: 'Events', color: 'green', kind: 'line' },
        { key: 'rejected', label: 'Rejected', color: 'amber', kind: 'line', dashed: true },
      ],
    });
    const errors = timeChart({
      testid: 'chart-errors',
      label: 'Error rate per minute',
      format: percent,
      min: 0.05,
      max: 1,
      series: [{ key: 'rate', label: 'Error rate', color: 'red', kind: 'area' }],
      tipExtra: (i) => {
        const b = data.buckets[i];
        return [{ label: 'Failed', value: `${compact(b.failed_attempts)} of ${compact(b.attempts)}` }];
      },
    });
    const latency = timeChart({
      testid: 'chart-latency',
      label: 'Delivery latency per minute, p50 and p99',
      format: duration,
      min: 10,
      series: [
        { key: 'p99', label: 'p99', color: 'violet', kind: 'area' },
        { key: 'p50', label: 'p50', color: 'blue', kind: 'line' },
      ],
    });
    const queue = barChart({ testid: 'chart-queue', label: 'Queue depth per destination', title: (r) => r.label });
    const charts = [throughput, errors, latency, queue];

    const legend = (items) => h('div.mx-legend', items.map(([label, color, value]) => h('span.mx-legend-item', h('span.ch-swatch', { style: { background: colorVar(color) } }), label, value != null ? h('span.mx-legend-n', value) : null)));
    const legendHosts = { throughput: h('div'), errors: h('div'), latency: h('div') };
    const card = (testid, title, sub, legendHost, body, cls) =>
      h('section.card.mx-card', { class: cls, 'data-testid': testid }, h('div.mx-card-head', h('div', h('h3', title), h('p.muted', sub)), legendHost), body);

    const queueNote = h('div.mx-queue-empty', { hidden: true }, icon('check'), h('span', 'Nothing queued: every destination is caught up.'));
    const queueMore = h('p.mx-more.muted', { hidden: true });
    const queueSub = h('p.muted', 'Events waiting for delivery, by destination.');
    const grid = h(
      'div.mx-grid',
      card('card-throughput', 'Throughput', 'Requests received and events routed, per minute.', legendHosts.throughput, throughput.el, 'mx-wide'),
      card('card-errors', 'Error rate', 'Failed delivery attempts, per minute.', legendHosts.errors, errors.el),
      card('card-latency', 'Delivery latency', 'Response time of delivery attempts, per minute.', legendHosts.latency, latency.el),
      h(
        'section.card.mx-card.mx-wide',
        { 'data-testid': 'card-queue' },
        h('div.mx-card-head', h('div', h('h3', 'Queue depth'), queueSub), legend([['Queued', 'accent'], ['Overdue > 1 min', 'amber'], ['Overdue > 10 min', 'red']])),
        queue.el,
        queueNote,
        queueMore,
      ),
    );
    const emptyHost = h('div.card.mx-empty', { 'data-testid': 'metrics-empty', hidden: true });
    const body = h('div.mx-body', spinner('Loading metrics'));
    const status = h('div.mx-status', { role: 'status' });

    mount(
      root,
      h(
        'div.mx',
        { 'data-testid': 'metrics-page' },
        h(
          'div.page-head',
          h('div', h('h1', 'Metrics'), h('p.subtitle', 'Throughput, errors, delivery latency and queue depth, minute by minute.')),
          h('div.page-actions.mx-actions', winHost, updated, liveBtn),
        ),
        status,
        body,
      ),
    );
    drawLive();
    drawWindow();

    function render(d) {
      data = d;
      const now = Date.parse(d.now) || Date.now();
      const b = d.buckets || [];
      const t = d.totals || {};
      const times = b.map((x) => Date.parse(x.at));
      const rejected = b.reduce((a, x) => a + (x.rejected || 0), 0);
      const queued = (d.queue || []).reduce((a, q) => a + q.depth, 0);
      const idle = !t.requests && !t.events && !t.attempts && !queued;

      if (!body.contains(grid)) mount(body, tilesRow, emptyHost, grid);
      updated.textContent = `Updated ${new Date(now).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
      updated.title = dateTime(d.now);

      // Tiles.
      const attempts = t.attempts ? plural(t.attempts, 'attempt') : '';
      setTile(tiles.requests, compact(t.requests || 0), t.requests || 0, rejected ? `${compact(rejected)} rejected · ${percent(rejected / (t.requests || 1))}` : 'none rejected', b.map((x) => x.requests));
      setTile(tiles.events, compact(t.events || 0), t.events || 0, plural(t.attempts || 0, 'delivery attempt'), b.map((x) => x.events));
      setTile(tiles.errors, t.attempts ? percent(t.error_rate || 0) : '—', t.error_rate ?? 0, t.attempts ? `${compact(t.failed_attempts || 0)} of ${attempts} failed` : 'no delivery attempt', b.map(errorRate), 'max');
      tiles.errors.el.classList.toggle('mx-tile-bad', (t.error_rate || 0) > 0);
      setTile(tiles.p50, duration(t.latency_p50_ms), t.latency_p50_ms ?? '', t.attempts ? 'median response time' : 'no delivery attempt', b.map((x) => x.latency_p50_ms), 'max');
      setTile(tiles.p99, duration(t.latency_p99_ms), t.latency_p99_ms ?? '', t.attempts ? '1 in 100 responses slower' : 'no delivery attempt', b.map((x) => x.latency_p99_ms), 'max');

      emptyHost.hidden = !idle;
      grid.hidden = idle;
      if (idle) {
        mount(
          emptyHost,
          emptyState({
            icon: 'metrics',
            title: `No traffic in ${win.text}`,
            text: 'Send a request to a source URL and the charts fill in within seconds. A wider window shows older traffic.',
            action: h('a.btn.btn-secondary', { href: '#/connections' }, icon('connections'), h('span', 'See source URLs')),
          }),
        );
        return;
      }

      // Charts.
      throughput.set({ times, values: { requests: b.map((x) => x.requests), events: b.map((x) => x.events), rejected: b.map((x) => x.rejected) } });
      mount(legendHosts.throughput, legend([['Requests', 'accent', compact(t.requests || 0)], ['Events', 'green', compact(t.events || 0)], ['Rejected', 'amber', compact(rejected)]]));
      errors.set({ times, values: { rate: b.map(errorRate) } });
      mount(legendHosts.errors, legend([['Error rate', 'red', t.attempts ? percent(t.error_rate || 0) : '—']]));
      latency.set({ times, values: { p50: b.map((x) => x.latency_p50_ms), p99: b.map((x) => x.latency_p99_ms) } });
      mount(legendHosts.latency, legend([['p50', 'blue', t.latency_p50_ms != null ? duration(t.latency_p50_ms) : '—'], ['p99', 'violet', t.latency_p99_ms != null ? duration(t.latency_p99_ms) : '—']]));

      const q = [...(d.queue || [])].sort((a, c) => c.depth - a.depth || String(a.destination_name).localeCompare(String(c.destination_name)));
      const shown = q.filter((x) => x.depth > 0).slice(0, QUEUE_ROWS);
      queue.set(
        shown.map((x) => ({
          key: x.destination_id,
          label: x.destination_name || x.destination_id,
          value: x.depth,
          color: queueTone(x, now),
          note: [compact(x.depth), dueNote(x, now)].filter(Boolean).join(' · '),
          tip: [
            { color: queueTone(x, now), label: 'Queued', value: compact(x.depth) },
            { label: 'Oldest due', value: x.oldest_due_at ? relTime(x.oldest_due_at, now) : '—' },
          ],
        })),
      );
      queueSub.textContent = queued ? `${plural(queued, 'event')} waiting for delivery, by destination.` : 'Events waiting for delivery, by destination.';
      queueNote.hidden = shown.length > 0;
      const rest = q.filter((x) => x.depth > 0).length - shown.length;
      queueMore.hidden = rest <= 0;
      queueMore.textContent = rest > 0 ? `and ${plural(rest, 'more destination')}` : '';
    }

    function setTile(tl, text, value, sub, spark, mode = 'sum') {
      tl.value.textContent = text;
      tl.el.dataset.value = value;
      tl.sub.textContent = sub;
      mount(tl.spark, sparkbars(spark, tl.color, { mode }));
    }

    async function load() {
      const my = ++seq;
      try {
        const d = await api.get('/metrics/summary', { minutes: win.minutes });
        if (destroyed || my !== seq) return;
        status.replaceChildren();
        render(d);
      } catch (err) {
        if (destroyed || my !== seq) return;
        if (!data) {
          mount(body, errorBox(err.status === 404 ? Object.assign(new Error('This Pier has no metrics API (GET /metrics/summary).'), { status: 404 }) : err, () => load()));
        } else {
          mount(status, h('div.mx-stale', icon('alert'), h('span', `Live update failed: ${err.message}. Showing the data of ${updated.textContent.replace('Updated ', '')}.`)));
        }
      }
    }

    function schedule() {
      clearTimeout(timer);
      if (destroyed) return;
      timer = setTimeout(async () => {
        if (live && !document.hidden) await load();
        schedule();
      }, POLL_MS);
    }

    function setLive(on) {
      live = on;
      drawLive();
      if (on) load();
    }

    function setWindow(v) {
      if (v === win.value) return;
      win = windowOf(v);
      ctx.setQuery({ window: win.value === DEFAULT_WINDOW ? '' : win.value });
      root.querySelector('.mx').dataset.window = win.value;
      load();
    }

    const onVisible = () => {
      if (!document.hidden && live) load();
    };
    document.addEventListener('visibilitychange', onVisible);
    root.querySelector('.mx').dataset.window = win.value;
    load();
    schedule();

    return {
      update(next) {
        const w = windowOf(next.query.get('window'));
        if (w.value !== win.value) {
          win = w;
          root.querySelector('.mx').dataset.window = win.value;
          drawWindow();
          load();
        }
      },
      unmount() {
        destroyed = true;
        clearTimeout(timer);
        document.removeEventListener('visibilitychange', onVisible);
        for (const c of charts) c.destroy();
      },
    };
  },
};
