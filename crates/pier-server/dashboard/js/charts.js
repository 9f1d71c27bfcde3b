// Charts drawn as inline SVG, with no library: time series (lines and areas, with gaps where a
// value is null), horizontal bars, and sparklines. Axes, gridlines and a hover/keyboard tooltip.
// Colours are CSS variables (light and dark follow the page); the SVG is redrawn at the pixel
// width of its box (a ResizeObserver), so text is never stretched.
//
//   const c = timeChart({ series: [{ key, label, color: 'accent', kind: 'area' }], format });
//   root.append(c.el); c.set({ times: [ms…], values: { key: [n|null…] } }); … c.destroy();
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
let uid = 0;

/** An SVG element: s('path', {d, class}, children…). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

/** 'accent' → var(--accent); 'green' → var(--green-dot). */
export function colorVar(c) {
  return c === 'accent' ? 'var(--accent)' : `var(--${c}-dot)`;
}

/** "Nice" ticks from 0 to at least `max`: [0, step, 2·step, …]. */
export function niceTicks(max, count = 4, { integer = false } = {}) {
  if (!(max > 0)) max = integer ? count : 1;
  let step = max / count;
  const mag = 10 ** Math.floor(Math.log10(step));
  const f = step / mag;
  step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.ceil(step));
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(+v.toPrecision(12));
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

/** A compact count: 950, 1.2k, 34k, 1.5M. */
export function compact(n) {
  if (n == null) return '—';
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  if (a < 1e6) return `${(n / 1e3).toFixed(a < 1e4 ? 1 : 0).replace(/\.0$/, '')}k`;
  return `${(n / 1e6).toFixed(a < 1e7 ? 1 : 0).replace(/\.0$/, '')}M`;
}

/** A rate (0..1) as a percentage: 0%, 0.4%, 5%, 12%. */
export function percent(r) {
  if (r == null) return '—';
  const p = r * 100;
  if (p === 0) return '0%';
  if (p < 10) return `${p.toFixed(1).replace(/\.0$/, '')}%`;
  return `${Math.round(p)}%`;
}

/** A duration in ms, short: 3 ms, 40 ms, 1.2 s, 2 min. */
export function duration(n) {
  if (n == null) return '—';
  if (n < 10 && n % 1) return `${n.toFixed(1)} ms`;
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0).replace(/\.0$/, '')} s`;
  return `${(n / 60_000).toFixed(1).replace(/\.0$/, '')} min`;
}

const pad = (n) => String(n).padStart(2, '0');
/** 14:05, local time. */
export function clock(t) {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function dayClock(t) {
  const d = new Date(t);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return clock(t);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${clock(t)}`;
}

const MINUTE = 60_000;
const X_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];

/** Time ticks between t0 and t1 on whole local minutes/hours, at most `maxTicks` of them. */
function timeTicks(t0, t1, maxTicks) {
  const span = (t1 - t0) / MINUTE;
  const stepMin = X_STEPS.find((st) => span / st <= maxTicks) || 1440;
  const step = stepMin * MINUTE;
  const offset = new Date(t0).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return ticks;
}

/** Split [v0, v1, null, v3…] into runs of indices with values. */
function runs(values) {
  const out = [];
  let cur = null;
  values.forEach((v, i) => {
    if (v == null || Number.isNaN(v)) {
      cur = null;
    } else {
      if (!cur) out.push((cur = []));
      cur.push(i);
    }
  });
  return out;
}

/** The tooltip box shared by the charts: a time (or title) and rows of swatch · label · value. */
function tooltip() {
  const el = h('div.ch-tip', { role: 'status', hidden: true });
  return {
    el,
    /** At `x`, beside it (flipped near the right edge); `y` is its top, or its middle when `middle`. */
    show(title, rows, x, y, box, { middle = false } = {}) {
      el.replaceChildren(
        h('div.ch-tip-title', title),
        ...rows.map((r) =>
          h(
            'div.ch-tip-row',
            h('span.ch-swatch', { style: { background: r.color ? colorVar(r.color) : 'transparent' } }),
            h('span.ch-tip-label', r.label),
            h('span.ch-tip-value', r.value),
          ),
        ),
      );
      el.hidden = false;
      const w = el.offsetWidth;
      const th = el.offsetHeight;
      let left = x + 14;
      if (left + w > box.width - 2) left = x - w - 14;
      if (left < 2) left = Math.max(2, Math.min(box.width - w - 2, x - w / 2));
      const top = Math.max(2, Math.min(box.height - th - 2, middle ? y - th / 2 : y));
      el.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
    },
    hide() {
      el.hidden = true;
    },
  };
}

/** Redraw `draw(width)` whenever the box changes width. */
function onWidth(el, draw) {
  let last = 0;
  const ro = new ResizeObserver(() => {
    const w = Math.floor(el.clientWidth);
    if (w && w !== last) {
      last = w;
      draw(w);
    }
  });
  ro.observe(el);
  return {
    width: () => Math.floor(el.clientWidth) || last || 600,
    stop: () => ro.disconnect(),
  };
}

/**
 * A time-series chart. `series`: [{key, label, color, kind: 'area'|'line', dashed}]; `format`
 * formats a value (axis labels use `axisFormat`, default the same); `integer` for counts;
 * `min` the lowest top of the y axis; `max` caps it (1 for rates).
 */
export function timeChart({ series, format = compact, axisFormat, integer = false, min = 0, max = Infinity, height = 200, testid, label = 'Chart', tipExtra }) {
  const id = ++uid;
  const tip = tooltip();
  const el = h('div.ch', { 'data-testid': testid, tabindex: '0', 'aria-label': `${label} chart; arrow keys read the values` });
  el.append(tip.el);
  let data = null;
  let geo = null; // {x(i), y(v), left, top, pw, ph, n, width, height}
  let hover = null; // index under the pointer, or null
  let svg = null;
  let cursor = null;

  function draw(width) {
    if (!data) return;
    const hgt = width < 520 ? Math.round(height * 0.82) : height;
    const n = data.times.length;
    let top = 0;
    for (const sr of series) for (const v of data.values[sr.key] || []) if (v != null && v > top) top = v;
    top = Math.min(Math.max(top, min), max);
    const ticks = niceTicks(top, hgt < 190 ? 3 : 4, { integer });
    const yMax = ticks[ticks.length - 1];
    const fmt = axisFormat || format;
    const labelW = Math.max(...ticks.map((t) => fmt(t).length)) * 6.6 + 12;
    const m = { left: Math.max(28, Math.round(labelW)), right: 10, top: 10, bottom: 24 };
    const pw = Math.max(10, width - m.left - m.right);
    const ph = hgt - m.top - m.bottom;
    const x = (i) => m.left + (n <= 1 ? pw / 2 : (i / (n - 1)) * pw);
    const y = (v) => m.top + ph - (Math.min(v, yMax) / yMax) * ph;
    geo = { x, y, left: m.left, top: m.top, pw, ph, n, width, height: hgt };

    const grid = ticks.map((t) =>
      s('g', {}, s('line', { class: t === 0 ? 'ch-axis' : 'ch-grid', x1: m.left, x2: m.left + pw, y1: y(t), y2: y(t) }), s('text', { class: 'ch-label', x: m.left - 8, y: y(t), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, fmt(t))),
    );
    const t0 = data.times[0];
    const t1 = data.times[n - 1];
    const xt = n > 1 ? timeTicks(t0, t1, Math.max(2, Math.floor(pw / 74))) : [];
    const xOf = (t) => m.left + ((t - t0) / (t1 - t0)) * pw;
    const xticks = xt.map((t) => {
      const px = xOf(t);
      const anchor = px - m.left < 18 ? 'start' : m.left + pw - px < 18 ? 'end' : 'middle';
      return s('g', {}, s('line', { class: 'ch-tick', x1: px, x2: px, y1: m.top + ph, y2: m.top + ph + 4 }), s('text', { class: 'ch-label', x: px, y: m.top + ph + 17, 'text-anchor': anchor }, clock(t)));
    });

    const defs = s('defs');
    const paths = [];
    // The first series is drawn last, on top of the others.
    [...series].reverse().forEach((sr, rk) => {
      const k = series.length - 1 - rk;
      const vals = data.values[sr.key] || [];
      const c = colorVar(sr.color);
      const gid = `chg-${id}-${k}`;
      if (sr.kind === 'area') {
        defs.append(
          s('linearGradient', { id: gid, x1: 0, x2: 0, y1: 0, y2: 1 }, s('stop', { offset: '0%', style: `stop-color:${c};stop-opacity:.26` }), s('stop', { offset: '100%', style: `stop-color:${c};stop-opacity:.02` })),
        );
      }
      for (const run of runs(vals)) {
        if (run.length === 1) {
          const i = run[0];
          if (sr.kind === 'area') paths.push(s('line', { class: 'ch-stem', x1: x(i), x2: x(i), y1: y(0), y2: y(vals[i]), style: `stroke:${c}` }));
          paths.push(s('circle', { class: 'ch-point', cx: x(i), cy: y(vals[i]), r: 2.6, style: `fill:${c}`, 'data-series': sr.key }));
          continue;
        }
        const d = run.map((i, j) => `${j ? 'L' : 'M'}${x(i).toFixed(1)},${y(vals[i]).toFixed(1)}`).join('');
        if (sr.kind === 'area') {
          const base = y(0).toFixed(1);
          paths.push(s('path', { class: 'ch-area', d: `${d}L${x(run[run.length - 1]).toFixed(1)},${base}L${x(run[0]).toFixed(1)},${base}Z`, fill: `url(#${gid})` }));
        }
        paths.push(s('path', { class: 'ch-line' + (sr.dashed ? ' ch-dashed' : ''), d, style: `stroke:${c}`, 'data-series': sr.key }));
      }
    });

    cursor = s('g', { class: 'ch-cursor', visibility: 'hidden' }, s('line', { class: 'ch-guide', y1: m.top, y2: m.top + ph }), [...series].reverse().map((sr) => s('circle', { class: 'ch-dot', r: 4, style: `stroke:${colorVar(sr.color)}`, 'data-series': sr.key })));
    const hit = s('rect', { class: 'ch-hit', x: m.left - 6, y: 0, width: pw + 12, height: hgt });

    const next = s('svg', { class: 'ch-svg', width, height: hgt, viewBox: `0 0 ${width} ${hgt}`, role: 'img', 'aria-label': label }, defs, s('g', {}, grid), s('g', {}, xticks), s('g', { class: 'ch-series' }, paths), cursor, hit);
    if (svg) svg.replaceWith(next);
    else el.prepend(next);
    svg = next;
    setHover(hover);
  }

  function pick(px) {
    if (!geo || !geo.n) return;
    const i = geo.n <= 1 ? 0 : Math.round(((px - geo.left) / geo.pw) * (geo.n - 1));
    setHover(Math.max(0, Math.min(geo.n - 1, i)));
  }

  function setHover(i) {
    hover = i;
    if (!geo || !cursor) return;
    if (i == null || i >= geo.n) {
      hover = null;
      cursor.setAttribute('visibility', 'hidden');
      tip.hide();
      return;
    }
    const px = geo.x(i);
    cursor.setAttribute('visibility', 'visible');
    const guide = cursor.querySelector('line');
    guide.setAttribute('x1', px);
    guide.setAttribute('x2', px);
    const rows = series.map((sr, k) => {
      const v = (data.values[sr.key] || [])[i];
      const dot = cursor.querySelector(`circle[data-series="${sr.key}"]`);
      if (v == null) dot.setAttribute('visibility', 'hidden');
      else {
        dot.setAttribute('visibility', 'visible');
        dot.setAttribute('cx', px);
        dot.setAttribute('cy', geo.y(v));
      }
      return { color: sr.color, label: sr.label, value: v == null ? '—' : format(v) };
    });
    if (tipExtra) rows.push(...tipExtra(i));
    tip.show(dayClock(data.times[i]), rows, px, geo.top, { width: geo.width, height: geo.height });
  }

  // Pointer events on the box, which outlives the redraws (every refresh replaces the SVG).
  const at = (e) => (svg ? e.clientX - svg.getBoundingClientRect().left : 0);
  el.addEventListener('pointermove', (e) => pick(at(e)));
  el.addEventListener('pointerdown', (e) => pick(at(e)));
  el.addEventListener('pointerleave', (e) => {
    if (e.pointerType !== 'touch') setHover(null);
  });
  el.addEventListener('keydown', (e) => {
    if (!geo || !geo.n) return;
    const step = e.shiftKey ? 10 : 1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const cur = hover == null ? (e.key === 'ArrowRight' ? -1 : geo.n) : hover;
      setHover(Math.max(0, Math.min(geo.n - 1, cur + (e.key === 'ArrowRight' ? step : -step))));
    } else if (e.key === 'Escape') setHover(null);
  });
  el.addEventListener('blur', () => setHover(null));

  const size = onWidth(el, draw);
  return {
    el,
    /** {times: [ms…], values: {key: [number|null…]}} */
    set(d) {
      data = d;
      if (hover != null && hover >= d.times.length) hover = null;
      draw(size.width());
    },
    destroy: size.stop,
  };
}

/**
 * Horizontal bars, one per row: [{key, label, value, note, color, tip: [{label, value}]}].
 * A value axis with gridlines under the bars; the label above each bar, the note at its right.
 */
export function barChart({ format = compact, testid, label = 'Bars', title = (r) => r.label }) {
  const tip = tooltip();
  const el = h('div.ch.ch-bars', { 'data-testid': testid });
  el.append(tip.el);
  let rows = [];
  let svg = null;
  let hovered = null; // the key of the row under the pointer

  function draw(width) {
    const rowH = 40;
    const m = { left: 2, right: 8, top: 4, bottom: 24 };
    const pw = Math.max(10, width - m.left - m.right);
    const ph = rows.length * rowH;
    const hgt = m.top + ph + m.bottom;
    const top = Math.max(...rows.map((r) => r.value), 0);
    const ticks = niceTicks(top, width < 520 ? 3 : 5, { integer: true });
    const vMax = ticks[ticks.length - 1];
    const x = (v) => m.left + (v / vMax) * pw;
    const grid = ticks.map((t, k) =>
      s(
        'g',
        {},
        // Gridlines across the bars only (not through the labels above them).
        rows.map((r, i) => s('line', { class: t === 0 ? 'ch-axis' : 'ch-grid', x1: x(t), x2: x(t), y1: m.top + i * rowH + 19, y2: m.top + i * rowH + 35 })),
        s('text', { class: 'ch-label', x: x(t), y: m.top + ph + 17, 'text-anchor': k === 0 ? 'start' : k === ticks.length - 1 ? 'end' : 'middle' }, format(t)),
      ),
    );
    const charW = 6.9;
    const bars = rows.map((r, i) => {
      const y0 = m.top + i * rowH;
      const note = r.note || '';
      const room = Math.max(4, Math.floor((pw - note.length * 6.4 - 16) / charW));
      const name = r.label.length > room ? r.label.slice(0, room - 1) + '…' : r.label;
      const c = colorVar(r.color || 'accent');
      const g = s(
        'g',
        { class: 'ch-bar-row', 'data-key': r.key, 'data-value': r.value },
        s('rect', { class: 'ch-bar-bg', x: m.left, y: y0, width: pw, height: rowH, rx: 6 }),
        s('text', { class: 'ch-bar-label', x: m.left + 2, y: y0 + 15 }, name),
        s('text', { class: 'ch-label ch-bar-note', x: m.left + pw, y: y0 + 15, 'text-anchor': 'end' }, note),
        s('rect', { class: 'ch-bar-track', x: m.left, y: y0 + 22, width: pw, height: 10, rx: 3 }),
        s('rect', { class: 'ch-bar', x: m.left, y: y0 + 22, width: Math.max(r.value > 0 ? 3 : 0, x(r.value) - m.left), height: 10, rx: 3, style: `fill:${c}` }),
      );
      const show = () => {
        hovered = r.key;
        el.querySelectorAll('.ch-bar-row.on').forEach((n) => n.classList.remove('on'));
        g.classList.add('on');
        tip.show(title(r), r.tip || [{ color: r.color || 'accent', label: 'Value', value: format(r.value) }], Math.min(x(r.value), m.left + pw - 40), y0 + 27, { width, height: hgt }, { middle: true });
      };
      g.addEventListener('pointerenter', show);
      g.addEventListener('pointerdown', show);
      g.addEventListener('pointerleave', () => {
        hovered = null;
        g.classList.remove('on');
        tip.hide();
      });
      g.show = show;
      return g;
    });
    const next = s('svg', { class: 'ch-svg', width, height: hgt, viewBox: `0 0 ${width} ${hgt}`, role: 'img', 'aria-label': label }, s('g', {}, grid), s('g', {}, bars));
    if (svg) svg.replaceWith(next);
    else el.prepend(next);
    svg = next;
    const again = bars.find((g) => g.dataset.key === hovered);
    if (again) again.show();
    else tip.hide();
  }

  const size = onWidth(el, (w) => rows.length && draw(w));
  return {
    el,
    set(r) {
      rows = r;
      if (rows.length) draw(size.width());
      else if (svg) {
        svg.remove();
        svg = null;
      }
    },
    destroy: size.stop,
  };
}

/**
 * A strip of small bars for a summary tile: the values grouped into at most `bins` bars (summed
 * for counts, the highest for rates and latencies); no axes, no interaction.
 */
export function sparkbars(values, color = 'accent', { bins = 40, mode = 'sum', width = 200, height = 28 } = {}) {
  const n = values.length;
  const nb = Math.max(1, Math.min(n, bins));
  const agg = [];
  for (let k = 0; k < nb; k++) {
    let v = null;
    for (let i = Math.floor((k * n) / nb); i < Math.floor(((k + 1) * n) / nb); i++) {
      const x = values[i];
      if (x == null) continue;
      v = v == null ? x : mode === 'max' ? Math.max(v, x) : v + x;
    }
    agg.push(v);
  }
  const top = Math.max(...agg.map((v) => v || 0), 0);
  const bw = width / nb;
  return s(
    'svg',
    { class: 'ch-spark', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', style: `--c:${colorVar(color)}` },
    agg.map((v, k) => {
      const hgt = v && top ? Math.max(3, (v / top) * height) : 2;
      return s('rect', { class: v ? 'ch-spark-bar' : 'ch-spark-idle', x: (k * bw + bw * 0.15).toFixed(2), y: (height - hgt).toFixed(2), width: (bw * 0.7).toFixed(2), height: hgt.toFixed(2) });
    }),
  );
}
