// Connections: a picture of sources → connections (with their rules) → destinations, with
// status, source URLs to copy, pause/unpause; `#/connections/new` and `#/connections/{id}/edit`
// open the form (connection_form.js).
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { button, copyButton, emptyState, errorBox, pill, spinner, toast } from '../ui.js';
import { ms, titleCase } from '../format.js';
import { connectionForm } from './connection_form.js';

export function connectionState(c) {
  if (c.disabled_at) return { label: 'Disabled', tone: 'gray', key: 'disabled' };
  if (c.paused_at) return { label: 'Paused', tone: 'amber', key: 'paused' };
  return { label: 'Active', tone: 'green', key: 'active' };
}

export function ruleChips(rules) {
  if (!rules || !rules.length) return [h('span.rule-chip.rule-none', 'No rules · default retries')];
  return rules.map((r) => {
    switch (r.type) {
      case 'retry':
        return h('span.rule-chip', { title: 'Retry rule' }, icon('retry'), `${r.count ?? 'default'}× ${r.strategy || ''} ${r.interval ? 'every ' + ms(r.interval) : ''}`.trim());
      case 'delay':
        return h('span.rule-chip', { title: 'Delay rule' }, icon('clock'), `Delay ${ms(r.delay)}`);
      case 'filter':
        return h('span.rule-chip', { title: 'Filter rule' }, icon('filter'), 'Filter ' + ['body', 'headers', 'query', 'path'].filter((k) => r[k] != null).join(', '));
      case 'transform':
        return h('span.rule-chip', { title: 'Transform rule' }, icon('transformations'), 'Transform');
      case 'deduplicate':
        return h('span.rule-chip', { title: 'Deduplicate rule' }, icon('fold'), `Dedupe ${ms(r.window)}`);
      default:
        return h('span.rule-chip', titleCase(r.type));
    }
  });
}

function authLabel(a) {
  const t = (a && a.type) || 'HOOKDECK_SIGNATURE';
  return { HOOKDECK_SIGNATURE: 'Signed (HMAC)', BASIC_AUTH: 'Basic auth', BEARER_TOKEN: 'Bearer token', API_KEY: 'API key', CUSTOM_SIGNATURE: 'Custom signature', OAUTH2_CLIENT_CREDENTIALS: 'OAuth2', STANDARD_WEBHOOKS: 'Standard Webhooks' }[t] || titleCase(t);
}

function sourceCard(s) {
  const v = s.verification && s.verification.type;
  return h(
    'div.node.node-source',
    { class: s.disabled_at ? 'is-disabled' : null, data: { testid: 'source-card', name: s.name } },
    h('div.node-kind', icon('source'), 'Source', s.disabled_at ? pill('Disabled', 'gray') : null),
    h('div.node-name', s.name),
    h(
      'div.url-box',
      h('span.url-text.mono', { title: s.url, 'data-testid': 'source-url' }, s.url.replace(/^https?:\/\//, '')),
      copyButton(s.url, { title: 'Copy source URL' }),
    ),
    h(
      'div.chips',
      h('span.chip', { title: 'Verification' }, icon(v ? 'shield' : 'globe'), v ? titleCase(v).replace('Hmac', 'HMAC').replace('Api key', 'API key') : 'Open'),
      h('span.chip.mono', { title: 'Allowed HTTP methods' }, (s.allowed_http_methods || []).join(' ')),
    ),
  );
}

function destinationCard(d) {
  const target = d.url || (d.cli_path ? `CLI ${d.cli_path}` : '');
  return h(
    'div.node.node-dest',
    { class: d.disabled_at ? 'is-disabled' : null, data: { testid: 'destination-card', name: d.name } },
    h('div.node-kind', icon('destination'), 'Destination', d.disabled_at ? pill('Disabled', 'gray') : null),
    h('div.node-name', d.name),
    h('div.node-url.mono', { title: target }, target.replace(/^https?:\/\//, '')),
    h(
      'div.chips',
      d.rate_limit ? h('span.chip', { title: 'Rate limit' }, icon('clock'), d.rate_limit_period === 'concurrent' ? `${d.rate_limit} concurrent` : `${d.rate_limit}/${d.rate_limit_period}`) : h('span.chip', { title: 'Rate limit' }, icon('clock'), 'No limit'),
      h('span.chip', { title: 'Authentication' }, icon('key'), authLabel(d.auth_method)),
    ),
  );
}

export default {
  id: 'connections',
  title: 'Connections',
  icon: 'connections',
  mount(root, ctx) {
    let state = { sources: [], connections: [], destinations: [] };
    let filter = '';
    let form = null;
    const graph = h('div.graph', { 'data-testid': 'connections-graph' }, spinner('Loading connections'));
    const counts = h('div.stat-row');
    const search = h('input.input.input-search', {
      type: 'search',
      placeholder: 'Filter by name…',
      'aria-label': 'Filter connections',
      oninput: (e) => {
        filter = e.target.value.trim().toLowerCase();
        draw();
      },
    });
    const listView = h(
      'div',
      h(
        'div.page-head',
        h('div', h('h1', 'Connections'), h('p.subtitle', 'Sources receive requests; connections route them, through their rules, to destinations.')),
        h(
          'div.page-actions',
          h('div.search-wrap', icon('search'), search),
          h('a.btn.btn-primary', { href: '#/connections/new', 'data-testid': 'new-connection' }, icon('plus'), h('span', 'New connection')),
        ),
      ),
      counts,
      graph,
    );

    let timer = null;
    let shownJson = '';
    async function load({ quiet = false } = {}) {
      try {
        const [sources, connections, destinations] = await Promise.all([api.all('/sources'), api.all('/connections'), api.all('/destinations')]);
        const json = JSON.stringify([sources, connections, destinations]);
        // Live: redraw only when something changed (keeps focus and hover states).
        if (quiet && json === shownJson) return;
        shownJson = json;
        state = { sources, connections, destinations };
        names.loadedAt = 0;
        draw();
      } catch (err) {
        if (!quiet) mount(graph, errorBox(err, () => load()));
      }
    }
    function poll() {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (!form && !document.hidden && graph.isConnected) await load({ quiet: true });
        poll();
      }, 5000);
    }

    function stat(n, label, tone) {
      return h('div.stat', { class: tone ? `stat-${tone}` : null }, h('span.stat-n', String(n)), h('span.stat-label', label));
    }

    function draw() {
      const { sources, connections, destinations } = state;
      const paused = connections.filter((c) => c.paused_at && !c.disabled_at).length;
      const disabled = connections.filter((c) => c.disabled_at).length;
      mount(
        counts,
        stat(sources.length, sources.length === 1 ? 'source' : 'sources'),
        stat(connections.length, connections.length === 1 ? 'connection' : 'connections'),
        stat(destinations.length, destinations.length === 1 ? 'destination' : 'destinations'),
        paused ? stat(paused, 'paused', 'amber') : null,
        disabled ? stat(disabled, 'disabled', 'gray') : null,
      );
      if (!sources.length) {
        mount(
          graph,
          emptyState({
            icon: 'connections',
            title: 'Create your first connection',
            text: 'A connection links a source (a URL that receives webhooks) to a destination (where Pier delivers them), with rules in between.',
            action: h('a.btn.btn-primary', { href: '#/connections/new' }, icon('plus'), h('span', 'New connection')),
          }),
        );
        return;
      }
      const match = (s) => !filter || s.toLowerCase().includes(filter);
      const groups = [];
      for (const s of [...sources].sort((a, b) => a.name.localeCompare(b.name))) {
        const conns = connections
          .filter((c) => c.source.id === s.id)
          .filter((c) => match(s.name) || match(c.name) || match(c.destination.name))
          .sort((a, b) => a.name.localeCompare(b.name));
        if (filter && !conns.length && !match(s.name)) continue;
        groups.push(group(s, conns));
      }
      mount(
        graph,
        h('div.graph-head', { 'aria-hidden': 'true' }, h('span', 'Source'), h('span', 'Connection'), h('span', 'Destination')),
        groups.length ? groups : emptyState({ icon: 'search', title: 'Nothing matches', text: `No source, connection or destination is named like “${filter}”.` }),
      );
    }

    function group(s, conns) {
      const lanes = conns.length
        ? conns.map(lane)
        : [
            h(
              'div.lane.lane-empty',
              h('div.link'),
              h(
                'div.node.node-ghost',
                h('span.muted', 'No connection: requests are stored, not delivered.'),
                h('a.btn.btn-secondary.btn-sm', { href: `#/connections/new?source_id=${s.id}` }, icon('plus'), h('span', 'Connect')),
              ),
            ),
          ];
      return h('div.flow', { class: conns.length > 1 ? 'multi' : null }, h('div.flow-source', sourceCard(s)), h('div.lanes', lanes));
    }

    /** How many events a paused connection holds (filled in when the count arrives). */
    function heldCount(c) {
      const el = h('a.held', { href: `#/events?webhook_id=${c.id}&status=HOLD`, 'data-testid': 'held' }, icon('pause'), 'Events held until resumed');
      api.get('/events', { webhook_id: c.id, status: 'HOLD', limit: 255 }).then(
        (r) => {
          const n = r.models.length;
          el.lastChild.textContent = n ? `${n}${r.pagination.next ? '+' : ''} event${n === 1 ? '' : 's'} held until resumed` : 'New events are held until resumed';
        },
        () => {},
      );
      return el;
    }

    function lane(c) {
      const st = connectionState(c);
      const toggle = c.disabled_at
        ? null
        : button(c.paused_at ? 'Resume' : 'Pause', {
            icon: c.paused_at ? 'play' : 'pause',
            size: 'sm',
            variant: c.paused_at ? 'primary' : 'secondary',
            testid: c.paused_at ? 'unpause' : 'pause',
            title: c.paused_at ? 'Unpause: deliver the held events' : 'Pause: hold new events until unpaused',
            onclick: async (e) => {
              e.currentTarget.disabled = true;
              const action = c.paused_at ? 'unpause' : 'pause';
              try {
                const updated = await api.put(`/connections/${c.id}/${action}`);
                state.connections = state.connections.map((x) => (x.id === c.id ? updated : x));
                shownJson = '';
                toast(action === 'pause' ? `${c.name} paused: new events are held` : `${c.name} resumed: held events are delivered`, 'success');
                draw();
              } catch (err) {
                toast(err.message, 'error');
                e.currentTarget.disabled = false;
              }
            },
          });
      const conn = h(
        'div.node.node-conn',
        { class: `state-${st.key}`, data: { testid: 'connection-card', name: c.name, id: c.id } },
        h('div.node-top', h('div.node-name', c.name), pill(st.label, st.tone, { title: st.key === 'paused' ? 'New events are held (HOLD) until unpaused' : null })),
        h('div.chips.rules', ruleChips(c.rules)),
        st.key === 'paused' ? heldCount(c) : null,
        h(
          'div.node-actions',
          toggle,
          h('a.btn.btn-ghost.btn-sm', { href: `#/events?webhook_id=${c.id}`, title: 'Events of this connection' }, icon('events'), h('span', 'Events')),
          h('a.btn.btn-ghost.btn-sm.btn-icon', { href: `#/connections/${c.id}/edit`, title: 'Edit', 'aria-label': `Edit ${c.name}`, 'data-testid': 'edit' }, icon('edit')),
        ),
      );
      return h('div.lane', { class: `state-${st.key}` }, h('div.link'), conn, h('div.link.link-out'), destinationCard(c.destination));
    }

    function show(c) {
      const [first, second] = c.parts;
      if (form) {
        form.destroy && form.destroy();
        form = null;
      }
      if (first === 'new' || second === 'edit') {
        form = connectionForm({
          id: second === 'edit' ? first : null,
          query: c.query,
          onDone: (msg) => {
            if (msg) toast(msg, 'success');
            c.navigate('#/connections');
          },
        });
        mount(root, form.el);
        document.title = `${first === 'new' ? 'New connection' : 'Edit connection'} · Pier`;
      } else {
        mount(root, listView);
        mount(graph, spinner('Loading connections'));
        shownJson = '';
        load();
        poll();
      }
    }

    show(ctx);
    return {
      update: show,
      unmount() {
        clearTimeout(timer);
        if (form && form.destroy) form.destroy();
      },
    };
  },
};

