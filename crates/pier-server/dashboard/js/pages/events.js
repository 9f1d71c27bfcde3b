// Events: each request routed through a connection, live; a detail panel with the attempts
// timeline (each attempt's request and response), the request data, and retry / mute.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { liveList } from '../list.js';
import { bulkRetry, bulkQueryOf } from '../bulk.js';
import { splitView, panelHeader, facts, section } from '../detail.js';
import { bodyViewer, kvTable } from '../json.js';
import { button, emptyState, errorBox, filterBar, formDialog, pill, searchInputs, select, spinner, tabs, toast } from '../ui.js';
import { dateTime, shortTime, relTime, ms, titleCase, EVENT_TONES, EVENT_STATUSES, httpTone, sinceToIso } from '../format.js';

export function eventPill(e) {
  return pill(titleCase(e.status), EVENT_TONES[e.status] || 'gray', { title: e.status });
}

function responseCell(e) {
  if (e.response_status) return pill(String(e.response_status), httpTone(e.response_status), { dot: false });
  if (e.error_code) return pill(titleCase(e.error_code), 'red', { dot: false, title: e.error_code });
  return h('span.muted', '—');
}

function connectionName(id) {
  const c = names.connections.get(id);
  return c ? c.full_name : id;
}

function connectionCell(e) {
  const c = names.connections.get(e.webhook_id);
  if (!c) return h('span.mono.muted', e.webhook_id);
  return h(
    'span.route',
    h('span.route-src', c.source.name),
    icon('arrowRight', 'route-arrow'),
    h('span.route-dst', c.destination.name),
  );
}

const RANGES = [['', 'Any time'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];
const MUTABLE = new Set(['QUEUED', 'SCHEDULED', 'HOLD', 'FAILED']);

export default {
  id: 'events',
  title: 'Events',
  icon: 'events',
  mount(root, ctx) {
    const keys = ['status', 'webhook_id', 'source_id', 'destination_id', 'response_status', 'error_code', 'range', 'search_term', 'body', 'headers'];
    let filters = Object.fromEntries(keys.map((k) => [k, ctx.query.get(k) || '']));
    let openId = null;
    let detailTimer = null;

    const mk = (key, first, opts = {}) =>
      select([['', first]], filters[key], { 'aria-label': opts.label || first, 'data-testid': `filter-${key}`, onchange: (e) => apply({ [key]: e.target.value }) });
    const statusSel = select([['', 'All statuses'], ...EVENT_STATUSES.map((s) => [s, titleCase(s)])], filters.status, {
      'aria-label': 'Status',
      'data-testid': 'filter-status',
      onchange: (e) => apply({ status: e.target.value }),
    });
    const connSel = mk('webhook_id', 'All connections', { label: 'Connection' });
    const srcSel = mk('source_id', 'All sources', { label: 'Source' });
    const dstSel = mk('destination_id', 'All destinations', { label: 'Destination' });
    const rangeSel = select(RANGES, filters.range, { 'aria-label': 'Time range', onchange: (e) => apply({ range: e.target.value }) });
    const codeInput = h('input.input.input-code', {
      type: 'search',
      inputmode: 'numeric',
      placeholder: 'HTTP status',
      'aria-label': 'Response status',
      value: filters.response_status,
      onchange: (e) => apply({ response_status: e.target.value.trim() }),
    });
    const { search: searchInput, body: bodyInput, headers: headersInput } = searchInputs(filters, apply);
    const clearBtn = button('Clear', {
      variant: 'ghost',
      size: 'sm',
      icon: 'x',
      onclick: () => {
        for (const el of [statusSel, connSel, srcSel, dstSel, rangeSel, codeInput, searchInput, bodyInput, headersInput]) el.value = '';
        apply(Object.fromEntries(keys.map((k) => [k, ''])));
      },
    });
    const filtered = () => Object.values(filters).some(Boolean);

    function apply(change) {
      filters = { ...filters, ...change };
      ctx.setQuery(filters);
      clearBtn.hidden = !filtered();
      fb.sync();
      list.reload();
    }

    const list = liveList({
      path: '/events',
      testid: 'events-table',
      params: () => {
        const { range, ...rest } = filters;
        const p = { ...rest, 'created_at[gte]': sinceToIso(range) };
        if (p.response_status && !/^\d{3}$/.test(p.response_status)) delete p.response_status;
        if (p.search_term && p.search_term.length < 3) delete p.search_term;
        return p;
      },
      prepare: async (models) => {
        const unknown = models.some((e) => !names.connections.has(e.webhook_id));
        await names.refresh(unknown).catch(() => {});
      },
      rowHref: (e) => `#/events/${e.id}`,
      columns: [
        { label: 'Created', width: 'minmax(92px, .8fr)', cls: 'c-time', render: (e) => h('span.mono', { title: dateTime(e.created_at) }, shortTime(e.created_at)) },
        { label: 'Status', width: 'minmax(116px, 1fr)', cls: 'c-status', render: eventPill },
        { label: 'Response', width: 'minmax(86px, .8fr)', cls: 'c-resp', render: responseCell },
        { label: 'Connection', width: 'minmax(160px, 2.2fr)', cls: 'c-main', render: connectionCell },
        {
          label: 'Attempts',
          width: 'minmax(84px, .7fr)',
          cls: 'c-count',
          render: (e) =>
            h(
              'span.counts',
              h('span', String(e.attempts)),
              e.next_attempt_at && e.status !== 'SUCCESSFUL' ? h('span.muted', { title: dateTime(e.next_attempt_at) }, `next ${relTime(e.next_attempt_at)}`) : null,
            ),
        },
        { label: 'ID', width: 'minmax(140px, 1.3fr)', cls: 'c-id mono muted hide-md', render: (e) => e.id },
      ],
      empty: () =>
        emptyState({
          icon: 'events',
          title: filtered() ? 'No event matches these filters' : 'No events yet',
          text: filtered()
            ? 'Try a wider time range or clear the filters.'
            : 'An event is a request routed through a connection. Send a request to a source with a connection and it shows up here.',
          action: filtered() ? null : h('a.btn.btn-secondary', { href: '#/connections' }, icon('connections'), h('span', 'Connections')),
        }),
    });

    // ---- retry all matching (bulk retry): plan, confirm, progress, cancel ----

    /** The current filters as a bulk query (the filters of GET /events, as JSON). */
    function bulkQuery() {
      const q = bulkQueryOf(filters, ['status', 'webhook_id', 'source_id', 'destination_id', 'error_code']);
      if (/^\d{3}$/.test(filters.response_status)) q.response_status = Number(filters.response_status);
      return q;
    }

    const bulk = bulkRetry({
      path: '/bulk/events/retry',
      noun: 'event',
      query: bulkQuery,
      filtered,
      skipped: 'in flight or held',
      onDone: () => list.refresh(),
    });
    const retryAll = bulk.button;
    const bulkHost = bulk.host;
    const watchRunning = bulk.watch;

    const qs = () => {
      const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
      return q ? '?' + q : '';
    };
    const close = () => ctx.navigate('#/events' + qs());
    const split = splitView(list.el, { onClose: close });

    const fb = filterBar([searchInput, bodyInput, headersInput, statusSel, connSel, srcSel, dstSel, codeInput, rangeSel, clearBtn], () => Object.values(filters).filter(Boolean).length);
    mount(
      root,
      h(
        'div.page-head',
        h('div', h('h1', 'Events'), h('p.subtitle', 'Requests routed through your connections, and every delivery attempt.')),
        h('div.page-actions', fb.toggle, retryAll, list.liveButton),
      ),
      fb.bar,
      bulkHost,
      split.el,
    );
    watchRunning();
    clearBtn.hidden = !filtered();

    names.refresh().then(() => {
      const byName = (m) => [...m.values()].sort((a, b) => (a.full_name || a.name).localeCompare(b.full_name || b.name));
      for (const c of byName(names.connections)) connSel.append(h('option', { value: c.id, selected: c.id === filters.webhook_id }, c.full_name));
      for (const s of byName(names.sources)) srcSel.append(h('option', { value: s.id, selected: s.id === filters.source_id }, s.name));
      for (const d of byName(names.destinations)) dstSel.append(h('option', { value: d.id, selected: d.id === filters.destination_id }, d.name));
    }, () => {});

    // ---- detail ----

    function attemptItem(a, { open }) {
      const tone = a.status === 'SUCCESSFUL' ? 'green' : a.status === 'FAILED' ? 'red' : 'blue';
      const details = h(
        'div.attempt-body',
        facts([
          ['Request', a.requested_url ? h('span.mono.break', h('span.method', a.http_method || 'POST'), ' ', a.requested_url) : null],
          ['Trigger', titleCase(a.trigger)],
          ['Sent', dateTime(a.delivered_at || a.created_at)],
          ['Responded', a.responded_at ? dateTime(a.responded_at) : null],
          ['Latency', a.response_latency != null ? `${ms(a.response_latency)} response · ${ms(a.delivery_latency)} since the event was created` : null],
          a.error_code ? ['Error', h('span.bad', a.error_code)] : null,
        ]),
        a.status === 'QUEUED' || a.state === 'QUEUED' || (!a.responded_at && !a.error_code && a.status !== 'FAILED')
          ? h('div.viewer-empty', 'Waiting for the destination…')
          : bodyViewer(a.body, { title: 'Response', badge: false, empty: 'Empty response body' }),
      );
      const item = h(
        'li.attempt',
        { class: [open ? 'open' : null, `tone-${tone}`], data: { id: a.id, testid: 'attempt' } },
        h('span.attempt-dot'),
        h(
          'button.attempt-head',
          { type: 'button', 'aria-expanded': String(open), onclick: () => {
            const o = item.classList.toggle('open');
            item.querySelector('.attempt-head').setAttribute('aria-expanded', String(o));
          } },
          h('span.attempt-num', `#${a.attempt_number}`),
          a.response_status ? pill(String(a.response_status), httpTone(a.response_status), { dot: false }) : pill(titleCase(a.error_code || a.status), tone === 'blue' ? 'blue' : 'red', { dot: false }),
          h('span.attempt-trigger', titleCase(a.trigger)),
          h('span.attempt-latency.mono', a.response_latency != null ? ms(a.response_latency) : ''),
          h('span.attempt-time.muted', { title: dateTime(a.created_at) }, relTime(a.created_at)),
          icon('chevronDown', 'attempt-caret'),
        ),
        details,
      );
      return item;
    }

    function timeline(attempts, keepOpen) {
      if (!attempts.length) return h('div.viewer-empty', { 'data-testid': 'attempts-empty' }, 'No attempt yet: the event is waiting for delivery.');
      return h(
        'ol.timeline',
        { 'data-testid': 'attempts' },
        attempts.map((a, i) => attemptItem(a, { open: keepOpen ? keepOpen.has(a.id) : i === 0 })),
      );
    }

    async function openDetail(id) {
      clearTimeout(detailTimer);
      openId = id;
      list.select(id);
      if (!id) return split.close();
      split.open(spinner('Loading event'));
      let evt, atts;
      try {
        [evt, atts] = await Promise.all([api.get(`/events/${id}`, { include: 'data' }), api.get('/attempts', { event_id: id, limit: 100 }), names.refresh()]);
      } catch (err) {
        if (openId === id) split.open(panelHeader('Event', id, { onClose: close }), errorBox(err, () => openDetail(id)));
        return;
      }
      if (openId !== id) return;
      drawDetail(evt, sortAttempts(atts.models));
      poll(id);
    }

    const sortAttempts = (list) => [...list].sort((a, b) => b.attempt_number - a.attempt_number || b.created_at.localeCompare(a.created_at));

    function poll(id) {
      clearTimeout(detailTimer);
      detailTimer = setTimeout(async () => {
        if (openId !== id) return;
        try {
          const [evt, atts] = await Promise.all([api.get(`/events/${id}`), api.get('/attempts', { event_id: id, limit: 100 })]);
          if (openId !== id) return;
          refreshDetail(evt, sortAttempts(atts.models));
        } catch {}
        if (openId === id) poll(id);
      }, 2000);
    }

    let shown = { evt: null, atts: '' };
    let refs = {}; // the parts of the open panel that live updates redraw

    function refreshDetail(evt, atts) {
      const json = JSON.stringify(atts);
      const host = refs.attempts;
      if (host && json !== shown.atts) {
        const keepOpen = new Set([...host.querySelectorAll('.attempt.open')].map((x) => x.dataset.id));
        const known = new Set([...host.querySelectorAll('.attempt')].map((x) => x.dataset.id));
        for (const a of atts) if (!known.has(a.id)) keepOpen.add(a.id);
        mount(host, timeline(atts, keepOpen));
        for (const a of atts) if (!known.has(a.id)) host.querySelector(`[data-id="${a.id}"]`)?.classList.add('row-new');
        shown.atts = json;
        const count = split.body.querySelector('[data-testid="tab-attempts"] .tab-count');
        if (count) count.textContent = String(atts.length);
      }
      const statusHost = refs.status;
      if (statusHost && JSON.stringify(evt.status + evt.response_status + evt.next_attempt_at + evt.attempts) !== shown.evt) {
        mount(statusHost, statusLine(evt));
        shown.evt = JSON.stringify(evt.status + evt.response_status + evt.next_attempt_at + evt.attempts);
        if (refs.mute) refs.mute.disabled = !MUTABLE.has(evt.status);
      }
    }

    function statusLine(e) {
      return [
        eventPill(e),
        e.response_status ? pill(`HTTP ${e.response_status}`, httpTone(e.response_status), { dot: false }) : null,
        e.error_code ? pill(titleCase(e.error_code), 'red', { dot: false }) : null,
        h('span.muted', `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`),
        e.status === 'HOLD' ? h('span.muted', icon('pause'), ' held while the connection is paused') : null,
        e.next_attempt_at && e.status !== 'SUCCESSFUL' && e.status !== 'CANCELLED'
          ? h('span.muted', { title: dateTime(e.next_attempt_at) }, icon('clock'), ` next attempt ${relTime(e.next_attempt_at)}`)
          : null,
      ];
    }

    function drawDetail(evt, atts) {
      const conn = names.connections.get(evt.webhook_id);
      const dest = names.destinations.get(evt.destination_id) || (conn && conn.destination);
      const src = names.sources.get(evt.source_id) || (conn && conn.source);
      const d = evt.data || { headers: {}, body: null, path: '/' };
      shown = { evt: JSON.stringify(evt.status + evt.response_status + evt.next_attempt_at + evt.attempts), atts: JSON.stringify(atts) };
      const retry = button('Retry', {
        icon: 'retry',
        size: 'sm',
        variant: 'primary',
        testid: 'event-retry',
        title: 'Deliver this event again now',
        onclick: async () => {
          retry.disabled = true;
          try {
            const res = await api.post(`/events/${evt.id}/retry`);
            toast(`Retry sent: attempt #${res.attempt.attempt_number}`, 'success');
            refreshDetail(res.event, sortAttempts([res.attempt, ...JSON.parse(shown.atts).filter((a) => a.id !== res.attempt.id)]));
            list.refresh();
            poll(evt.id);
          } catch (err) {
            toast(err.message, 'error');
          } finally {
            retry.disabled = false;
          }
        },
      });
      const mute = button('Mute', {
        icon: 'mute',
        size: 'sm',
        testid: 'event-mute',
        disabled: !MUTABLE.has(evt.status),
        title: 'Cancel the pending and future attempts of this event',
        onclick: async () => {
          mute.disabled = true;
          try {
            const res = await api.put(`/events/${evt.id}/mute`);
            toast('Event muted: no more automatic attempts', 'success');
            refreshDetail(res && res.id ? res : { ...evt, status: 'CANCELLED' }, JSON.parse(shown.atts));
            list.refresh();
          } catch (err) {
            toast(err.message, 'error');
            mute.disabled = false;
          }
        },
      });
      const bookmark = button('Bookmark', {
        icon: 'bookmark',
        size: 'sm',
        testid: 'event-bookmark',
        title: 'Save this request to replay it later on this connection',
        onclick: async () => {
          const saved = await formDialog({
            title: 'Bookmark this event',
            text: 'Its request is saved on this connection; trigger the bookmark to deliver it again.',
            testid: 'bookmark-dialog',
            confirm: 'Bookmark',
            fields: [
              { name: 'label', label: 'Label', value: `${conn ? conn.name : 'event'} · ${shortTime(evt.created_at)}` },
              { name: 'name', label: 'Name', optional: true, placeholder: 'order-created', hint: 'A unique name: letters, digits, - and _' },
            ],
            submit: (v) =>
              api.post('/bookmarks', {
                event_data_id: evt.request_id,
                webhook_id: evt.webhook_id,
                label: v.label,
                ...(v.name ? { name: v.name } : {}),
              }),
          });
          if (saved) toast(`Bookmarked as “${saved.label}”`, 'success');
        },
      });
      const attemptsHost = h('div', { 'data-testid': 'attempts-host' }, timeline(atts));
      const statusHost = h('div.summary-line', { 'data-testid': 'event-status' }, statusLine(evt));
      refs = { attempts: attemptsHost, status: statusHost, mute };
      split.open(
        panelHeader('Event', evt.id, { onClose: close, actions: [bookmark, mute, retry] }),
        h(
          'div.panel-summary',
          statusHost,
          h(
            'div.route.route-lg',
            h('span.route-src', icon('source'), src ? src.name : evt.source_id),
            icon('arrowRight', 'route-arrow'),
            h('span.route-conn', conn ? conn.name : evt.webhook_id),
            icon('arrowRight', 'route-arrow'),
            h('span.route-dst', icon('destination'), dest ? dest.name : evt.destination_id),
          ),
        ),
        section(
          null,
          facts([
            ['Destination', dest ? h('span.mono.break', dest.url || dest.cli_path || '') : null],
            ['Created', dateTime(evt.created_at)],
            ['Last attempt', evt.last_attempt_at ? dateTime(evt.last_attempt_at) : null],
            ['Delivered', evt.successful_at ? dateTime(evt.successful_at) : null],
            ['Request', h('a.link.mono', { href: `#/requests/${evt.request_id}` }, evt.request_id)],
          ]),
        ),
        tabs([
          { id: 'attempts', label: 'Attempts', count: atts.length, render: () => attemptsHost },
          { id: 'body', label: 'Body', render: () => bodyViewer(d.body, { empty: d.is_large_payload ? 'Large payload: open the request for its raw body' : 'No body' }) },
          { id: 'headers', label: 'Headers', count: Object.keys(d.headers || {}).length, render: () => kvTable(d.headers) },
        ]),
      );
    }

    if (ctx.parts[0]) openDetail(ctx.parts[0]);

    return {
      update(c) {
        ctx = { ...ctx, ...c };
        const id = c.parts[0] || null;
        if (id !== openId) openDetail(id);
      },
      unmount() {
        clearTimeout(detailTimer);
        bulk.destroy();
        openId = null;
        list.destroy();
        split.destroy();
      },
    };
  },
};

export { connectionName };
