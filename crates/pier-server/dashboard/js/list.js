// A live, cursor-paginated list of API objects (requests, events…). On the first page it polls
// the API every `pollMs` and slides new rows in without a reload; older pages stay still.
import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { api } from './api.js';
import { button, errorBox } from './ui.js';

export function liveList({
  path,
  params = () => ({}),
  columns,
  rowHref,
  empty,
  testid,
  pollMs = 2000,
  pageSize = 50,
  prepare = async () => {},
  onRows = () => {},
}) {
  let cursor = null; // {next} or {prev} for pages after the first
  let pageNo = 1;
  let page = null;
  let rows = new Map(); // id → {data, json, el}
  let selected = null;
  let live = true;
  let timer = null;
  let destroyed = false;
  let loadSeq = 0;

  const body = h('div.tbody', { role: 'rowgroup' });
  const head = h(
    'div.thead',
    { role: 'rowgroup' },
    h('div.tr', { role: 'row' }, columns.map((c) => h('div.th', { role: 'columnheader', class: c.cls }, c.label))),
  );
  const table = h('div.table', { role: 'table', 'data-testid': testid }, head, body);
  // The full grid, and the grid without the columns hidden when space is short (hide-md).
  table.style.setProperty('--cols', columns.map((c) => c.width || '1fr').join(' '));
  table.style.setProperty('--cols-md', columns.filter((c) => !/\bhide-md\b/.test(c.cls || '')).map((c) => c.width || '1fr').join(' '));
  const status = h('div.list-status');
  const liveBtn = h('button.live', { type: 'button', 'data-testid': 'live-toggle', onclick: () => setLive(!live) });
  const newer = button('Newer', { icon: 'chevronLeft', size: 'sm', testid: 'page-newer', onclick: () => go('prev') });
  const older = h('button.btn.btn-secondary.btn-sm', { type: 'button', 'data-testid': 'page-older', onclick: () => go('next') }, h('span', 'Older'), icon('chevronRight'));
  const pageLabel = h('span.page-label');
  const pager = h('div.pager', status, h('div.pager-buttons', pageLabel, newer, older));
  const el = h('div.list', table, pager);

  function drawLive() {
    const paused = !live || cursor;
    liveBtn.className = 'live' + (paused ? ' paused' : '');
    liveBtn.title = cursor ? 'Live updates run on the first page' : live ? 'Pause live updates' : 'Resume live updates';
    mount(liveBtn, h('span.live-dot'), h('span', paused ? 'Paused' : 'Live'));
  }

  function rowEl(m) {
    return h(
      'a.tr.row',
      { role: 'row', href: rowHref(m), data: { id: m.id }, class: m.id === selected ? 'selected' : null },
      columns.map((c) => h('div.td', { role: 'cell', class: c.cls, data: { label: c.label } }, c.render(m))),
    );
  }

  function render(models, { animate = false } = {}) {
    const next = new Map();
    const frag = [];
    for (const m of models) {
      const json = JSON.stringify(m);
      const old = rows.get(m.id);
      let el;
      if (old && old.json === json) el = old.el;
      else {
        el = rowEl(m);
        if (old) el.classList.add('row-changed');
        else if (animate) el.classList.add('row-new');
      }
      next.set(m.id, { data: m, json, el });
      frag.push(el);
    }
    rows = next;
    if (!models.length) mount(body, empty());
    else {
      // Keep existing nodes in place where possible (no flicker, focus kept).
      body.querySelector(':scope > .empty')?.remove();
      frag.forEach((el, i) => {
        if (body.children[i] !== el) body.insertBefore(el, body.children[i] || null);
      });
      while (body.children.length > frag.length) body.lastElementChild.remove();
    }
  }

  function drawPager() {
    newer.disabled = !cursor || !page || !page.pagination.prev;
    older.disabled = !page || !page.pagination.next;
    pageLabel.textContent = `Page ${pageNo}`;
    pager.classList.toggle('single', pageNo === 1 && older.disabled);
  }

  async function fetchPage() {
    const p = { ...params(), limit: pageSize, ...(cursor || {}) };
    const res = await api.get(path, p);
    await prepare(res.models);
    return res;
  }

  async function load({ animate = false, quiet = false } = {}) {
    const seq = ++loadSeq;
    if (!quiet && !rows.size) mount(body, skeleton());
    try {
      const res = await fetchPage();
      if (destroyed || seq !== loadSeq) return;
      page = res;
      render(res.models, { animate });
      drawPager();
      status.textContent = '';
      onRows(res.models);
    } catch (err) {
      if (destroyed || seq !== loadSeq) return;
      if (!quiet || !rows.size) {
        rows = new Map();
        mount(body, errorBox(err, () => load()));
      } else {
        status.textContent = `Live update failed: ${err.message}`;
      }
    }
  }

  function skeleton() {
    return h(
      'div.skeleton',
      Array.from({ length: 6 }, () => h('div.skeleton-row', columns.map(() => h('span.skeleton-bar')))),
    );
  }

  function schedule() {
    clearTimeout(timer);
    if (destroyed) return;
    timer = setTimeout(async () => {
      if (live && !cursor && !document.hidden) await load({ animate: true, quiet: true });
      schedule();
    }, pollMs);
  }

  function go(dir) {
    if (!page) return;
    const c = page.pagination[dir];
    if (!c) return;
    if (dir === 'next') pageNo += 1;
    else pageNo = Math.max(1, pageNo - 1);
    cursor = { [dir]: c };
    // Back on the first page: drop the cursor so live updates resume.
    if (pageNo === 1) cursor = null;
    rows = new Map();
    drawLive();
    load();
  }

  function setLive(on) {
    live = on;
    if (on && cursor) {
      cursor = null;
      pageNo = 1;
    }
    drawLive();
    if (on) load({ animate: true, quiet: true });
  }

  drawLive();
  load();
  schedule();

  return {
    el,
    liveButton: liveBtn,
    /** Filters changed: back to the first page. */
    reload() {
      cursor = null;
      pageNo = 1;
      rows = new Map();
      drawLive();
      load();
    },
    refresh: () => load({ quiet: true }),
    select(id) {
      selected = id;
      for (const r of body.children) r.classList && r.classList.toggle('selected', r.dataset.id === id);
    },
    get models() {
      return [...rows.values()].map((r) => r.data);
    },
    destroy() {
      destroyed = true;
      clearTimeout(timer);
    },
  };
}
