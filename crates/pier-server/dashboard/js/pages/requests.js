// Requests: every HTTP request the sources received, live; a detail panel with headers, body,
// the events it made, and retry.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { liveList } from '../list.js';
import { bulkRetry, bulkQueryOf } from '../bulk.js';
import { splitView, panelHeader, facts, section } from '../detail.js';
import { bodyViewer, kvTable } from '../json.js';
import { button, emptyState, errorBox, filterBar, pill, searchInputs, select, spinner, tabs, toast, segmented } from '../ui.js';
import { dateTime, shortTime, relTime, titleCase, REJECTION_CAUSES, sinceToIso, EVENT_TONES, httpTone } from '../format.js';

export function requestPill(r) {
  return r.rejection_cause
    ? pill(titleCase(r.rejection_cause), 'red', { title: r.rejection_cause })
    : pill('Accepted', 'green');
}

const RANGES = [['', 'Any time'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];

export function sourceName(id) {
  const s = names.sources.get(id);
  return s ? s.name : id;
}

export default {
  id: 'requests',
  title: 'Requests',
  icon: 'requests',
  mount(root, ctx) {
    let filters = {
      status: ctx.query.get('status') || '',
      source_id: ctx.query.get('source_id') || '',
      rejection_cause: ctx.query.get('rejection_cause') || '',
      range: ctx.query.get('range') || '',
      search_term: ctx.query.get('search_term') || '',
      body: ctx.query.get('body') || '',
      headers: ctx.query.get('headers') || '',
    };
    let openId = null;
    let detailTimer = null;

    const sourceSelect = select([['', 'All sources']], filters.source_id, {
      'aria-label': 'Source',
      'data-testid': 'filter-source',
      onchange: (e) => apply({ source_id: e.target.value }),
    });
    const causeSelect = select([['', 'Any cause'], ...REJECTION_CAUSES.map((c) => [c, titleCase(c)])], filters.rejection_cause, {
      'aria-label': 'Rejection cause',
      onchange: (e) => apply({ rejection_cause: e.target.value, status: e.target.value ? 'rejected' : filters.status }),
    });
    const rangeSelect = select(RANGES, filters.range, { 'aria-label': 'Time range', onchange: (e) => apply({ range: e.target.value }) });
    const statusSeg = () =>
      segmented(
        [{ value: '', label: 'All' }, { value: 'accepted', label: 'Accepted' }, { value: 'rejected', label: 'Rejected' }],
        filters.status,
        (v) => apply({ status: v, rejection_cause: v === 'accepted' ? '' : filters.rejection_cause }),
        { name: 'Status' },
      );
    const segHost = h('div', statusSeg());
    const { search: searchInput, body: bodyInput, headers: headersInput } = searchInputs(filters, apply);
    const clearBtn = button('Clear', {
      variant: 'ghost',
      size: 'sm',
      icon: 'x',
      onclick: () => apply({ status: '', source_id: '', rejection_cause: '', range: '', search_term: '', body: '', headers: '' }, true),
    });

    function apply(change, redraw = false) {
      filters = { ...filters, ...change };
      ctx.setQuery(filters);
      if (redraw) {
        sourceSelect.value = filters.source_id;
        causeSelect.value = filters.rejection_cause;
        rangeSelect.value = filters.range;
        searchInput.value = filters.search_term;
        bodyInput.value = filters.body;
        headersInput.value = filters.headers;
      }
      mount(segHost, statusSeg());
      causeSelect.value = filters.rejection_cause;
      clearBtn.hidden = !Object.values(filters).some(Boolean);
      fb.sync();
      list.reload();
    }

    const list = liveList({
      path: '/requests',
      testid: 'requests-table',
      params: () => ({
        status: filters.status,
        source_id: filters.source_id,
        rejection_cause: filters.rejection_cause,
        'created_at[gte]': sinceToIso(filters.range),
        search_term: filters.search_term.length >= 3 ? filters.search_term : '',
        body: filters.body,
        headers: filters.headers,
      }),
      prepare: (models) => names.refresh(models.some((r) => !names.sources.has(r.source_id))).catch(() => {}),
      rowHref: (r) => `#/requests/${r.id}`,
      columns: [
        { label: 'Received', width: 'minmax(92px, .8fr)', cls: 'c-time', render: (r) => h('span.mono', { title: dateTime(r.created_at) }, shortTime(r.created_at)) },
        { label: 'Status', width: 'minmax(130px, 1.1fr)', cls: 'c-status', render: requestPill },
        { label: 'Source', width: 'minmax(120px, 1.4fr)', cls: 'c-main', render: (r) => h('span.strong', sourceName(r.source_id)) },
        {
          label: 'Events',
          width: 'minmax(110px, 1fr)',
          cls: 'c-count',
          render: (r) =>
            h('span.counts', h('span', { title: 'Events' }, icon('events'), String(r.events_count)), r.ignored_count ? h('span.muted', { title: 'Ignored' }, `${r.ignored_count} ignored`) : null),
        },
        { label: 'Verified', width: 'minmax(80px, .7fr)', cls: 'c-verified hide-sm', render: (r) => (r.verified ? h('span.ok', icon('shield'), 'Yes') : h('span.muted', 'No')) },
        { label: 'ID', width: 'minmax(140px, 1.3fr)', cls: 'c-id mono muted hide-md', render: (r) => r.id },
      ],
      empty: () =>
        emptyState({
          icon: 'requests',
          title: Object.values(filters).some(Boolean) ? 'No request matches these filters' : 'No requests yet',
          text: Object.values(filters).some(Boolean)
            ? 'Try a wider time range or clear the filters.'
            : 'Send an HTTP request to a source URL and it appears here within two seconds.',
          action: Object.values(filters).some(Boolean) ? null : h('a.btn.btn-secondary', { href: '#/connections' }, icon('connections'), h('span', 'See source URLs')),
        }),
    });

    const split = splitView(list.el, { onClose: () => ctx.navigate('#/requests' + qs()) });
    const qs = () => {
      const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
      return q ? '?' + q : '';
    };

    /** The current filters as a bulk query (the filters of GET /requests, as JSON). */
    const bulkQuery = () => bulkQueryOf(filters, ['status', 'source_id', 'rejection_cause']);
    const bulk = bulkRetry({
      path: '/bulk/requests/retry',
      noun: 'request',
      query: bulkQuery,
      filtered: () => Object.values(filters).some(Boolean),
      skipped: 'refused at ingest or whose source has no connection',
      onDone: () => list.refresh(),
    });

    const fb = filterBar([searchInput, bodyInput, headersInput, segHost, sourceSelect, causeSelect, rangeSelect, clearBtn], () => Object.values(filters).filter(Boolean).length);
    mount(
      root,
      h(
        'div.page-head',
        h('div', h('h1', 'Requests'), h('p.subtitle', 'Every HTTP request your sources received, exactly as it arrived.')),
        h('div.page-actions', fb.toggle, bulk.button, list.liveButton),
      ),
      fb.bar,
      bulk.host,
      split.el,
    );
    bulk.watch();
    clearBtn.hidden = !Object.values(filters).some(Boolean);

    names.refresh().then(() => {
      for (const s of [...names.sources.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        sourceSelect.append(h('option', { value: s.id, selected: s.id === filters.source_id }, s.name));
      }
    }, () => {});

    async function openDetail(id) {
      clearTimeout(detailTimer);
      openId = id;
      list.select(id);
      if (!id) return split.close();
      split.open(spinner('Loading request'));
      let req, raw, evts, ignored;
      try {
        [req, raw, evts, ignored] = await Promise.all([
          api.get(`/requests/${id}`, { include: 'data' }),
          api.get(`/requests/${id}/raw_body`).catch(() => null),
          api.get(`/requests/${id}/events`, { limit: 100 }),
          api.get(`/requests/${id}/ignored_events`, { limit: 100 }),
          names.refresh(),
        ]);
      } catch (err) {
        if (openId === id) split.open(panelHeader('Request', id, { onClose: close }), errorBox(err, () => openDetail(id)));
        return;
      }
      if (openId !== id) return;
      drawDetail(req, raw, evts.models, ignored.models);
      // Keep the events of this request fresh while the panel is open.
      const tick = async () => {
        if (openId !== id) return;
        try {
          const fresh = await api.get(`/requests/${id}/events`, { limit: 100 });
          if (openId !== id) return;
          const host = split.body.querySelector('[data-testid="request-events"]');
          if (host && JSON.stringify(fresh.models) !== host.dataset.json) mount(host, eventsOfRequest(fresh.models));
        } catch {}
        detailTimer = setTimeout(tick, 2000);
      };
      detailTimer = setTimeout(tick, 2000);
    }

    function close() {
      ctx.navigate('#/requests' + qs());
    }

    function eventsOfRequest(evts) {
      if (!evts.length) return h('div.viewer-empty', 'No events: no connection turned this request into an event.');
      const el = h(
        'div.mini-list',
        evts.map((e) => {
          const conn = names.connections.get(e.webhook_id);
          return h(
            'a.mini-row',
            { href: `#/events/${e.id}` },
            pill(titleCase(e.status), EVENT_TONES[e.status] || 'gray'),
            h('span.strong', conn ? conn.full_name : e.webhook_id),
            e.response_status ? pill(String(e.response_status), httpTone(e.response_status), { dot: false }) : null,
            h('span.muted.mono', shortTime(e.created_at)),
            icon('chevronRight'),
          );
        }),
      );
      return el;
    }

    function drawDetail(req, raw, evts, ignored) {
      const d = req.data || { headers: {}, body: null, path: '/', parsed_query: {} };
      const src = names.sources.get(req.source_id);
      const sourceConns = [...names.connections.values()].filter((c) => c.source.id === req.source_id && !c.disabled_at);
      const retry = button('Retry', {
        icon: 'retry',
        size: 'sm',
        testid: 'request-retry',
        disabled: !sourceConns.length || !!req.rejection_cause,
        title: req.rejection_cause ? 'Rejected requests cannot be retried' : 'Route this request again through its connections',
        onclick: async () => {
          retry.disabled = true;
          try {
            const res = await api.post(`/requests/${req.id}/retry`, { webhook_ids: sourceConns.map((c) => c.id) });
            toast(`Request retried: ${res.events.length} event${res.events.length === 1 ? '' : 's'} queued`, 'success');
            openDetail(req.id);
          } catch (err) {
            toast(err.message, 'error');
            retry.disabled = false;
          }
        },
      });
      const eventsHost = h('div', { 'data-testid': 'request-events', data: { json: JSON.stringify(evts) } }, eventsOfRequest(evts));
      split.open(
        panelHeader('Request', req.id, { onClose: close, actions: [retry] }),
        h(
          'div.panel-summary',
          h('div.summary-line', requestPill(req), h('span.muted', { title: dateTime(req.created_at) }, `received ${relTime(req.created_at)}`)),
          h('div.path-line.mono', h('span.method', 'PATH'), h('span', d.path + (d.query ? '?' + d.query : ''))),
        ),
        section(
          null,
          facts([
            ['Source', src ? h('span.strong', src.name) : req.source_id],
            ['Received', dateTime(req.ingested_at || req.created_at)],
            ['Verified', req.verified ? h('span.ok', icon('shield'), 'Verified') : 'No'],
            ['Events', `${req.events_count} created, ${req.ignored_count} ignored`],
            req.rejection_cause ? ['Rejected', h('span.bad', req.rejection_cause)] : null,
          ]),
        ),
        tabs([
          { id: 'body', label: 'Body', render: () => bodyViewer(d.body, { raw: raw ? raw.body : null, empty: d.is_large_payload ? 'Large payload: see the raw body' : 'No body' }) },
          { id: 'headers', label: 'Headers', count: Object.keys(d.headers || {}).length, render: () => kvTable(d.headers) },
          { id: 'query', label: 'Query', count: Object.keys(d.parsed_query || {}).length, render: () => kvTable(d.parsed_query, { empty: 'No query string' }) },
          { id: 'events', label: 'Events', count: evts.length, render: () => eventsHost },
          {
            id: 'ignored',
            label: 'Ignored',
            count: ignored.length,
            render: () =>
              ignored.length
                ? h('div.mini-list', ignored.map((i) => h('div.mini-row', pill(titleCase(i.cause), 'gray'), h('span', (names.connections.get(i.webhook_id) || {}).full_name || i.webhook_id), h('span.muted.mono', shortTime(i.created_at)))))
                : h('div.viewer-empty', 'Nothing was ignored.'),
          },
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
