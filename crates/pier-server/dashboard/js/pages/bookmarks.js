// Bookmarks: requests saved on a connection (from an event's panel), replayed on demand. A
// detail panel shows the saved body and headers, with Trigger (deliver it again now) and Delete.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { liveList } from '../list.js';
import { splitView, panelHeader, facts, section } from '../detail.js';
import { bodyViewer, kvTable } from '../json.js';
import { button, confirmDialog, emptyState, errorBox, spinner, tabs, toast } from '../ui.js';
import { dateTime, shortTime, relTime } from '../format.js';

function connectionCell(b) {
  const c = names.connections.get(b.webhook_id);
  if (!c) return h('span.mono.muted', b.webhook_id);
  return h('span.route', h('span.route-src', c.source.name), icon('arrowRight', 'route-arrow'), h('span.route-dst', c.destination.name));
}

export default {
  id: 'bookmarks',
  title: 'Bookmarks',
  icon: 'bookmark',
  mount(root, ctx) {
    let openId = null;
    const list = liveList({
      path: '/bookmarks',
      testid: 'bookmarks-table',
      pollMs: 5000,
      prepare: (models) => names.refresh(models.some((b) => !names.connections.has(b.webhook_id))).catch(() => {}),
      rowHref: (b) => `#/bookmarks/${b.id}`,
      columns: [
        {
          label: 'Label',
          width: 'minmax(160px, 2fr)',
          cls: 'c-main',
          render: (b) => h('span.stack', h('span.strong', b.label), b.alias ? h('span.mono.muted', b.alias) : null),
        },
        { label: 'Connection', width: 'minmax(160px, 2fr)', cls: 'c-conn', render: connectionCell },
        { label: 'Last triggered', width: 'minmax(110px, 1fr)', cls: 'c-time', render: (b) => (b.last_used_at ? h('span', { title: dateTime(b.last_used_at) }, relTime(b.last_used_at)) : h('span.muted', 'Never')) },
        { label: 'Created', width: 'minmax(92px, .8fr)', cls: 'c-time hide-md', render: (b) => h('span.mono', { title: dateTime(b.created_at) }, shortTime(b.created_at)) },
      ],
      empty: () =>
        emptyState({
          icon: 'bookmark',
          title: 'No bookmarks yet',
          text: 'Open an event and choose Bookmark to save its request; trigger the bookmark to deliver it again whenever you need, e.g. while fixing a handler.',
          action: h('a.btn.btn-secondary', { href: '#/events' }, icon('events'), h('span', 'Events')),
        }),
    });
    const close = () => ctx.navigate('#/bookmarks');
    const split = splitView(list.el, { onClose: close });
    mount(
      root,
      h(
        'div.page-head',
        h('div', h('h1', 'Bookmarks'), h('p.subtitle', 'Saved requests you can deliver again to their connection at any time.')),
        h('div.page-actions', list.liveButton),
      ),
      split.el,
    );

    async function openDetail(id) {
      openId = id;
      list.select(id);
      if (!id) return split.close();
      split.open(spinner('Loading bookmark'));
      let b;
      try {
        [b] = await Promise.all([api.get(`/bookmarks/${id}`), names.refresh()]);
      } catch (err) {
        if (openId === id) split.open(panelHeader('Bookmark', id, { onClose: close }), errorBox(err, () => openDetail(id)));
        return;
      }
      if (openId === id) draw(b);
    }

    function draw(b, triggered = []) {
      const conn = names.connections.get(b.webhook_id);
      const d = b.data || { headers: {}, body: null };
      const trigger = button('Trigger', {
        icon: 'play',
        size: 'sm',
        variant: 'primary',
        testid: 'bookmark-trigger',
        title: 'Deliver the saved request to the connection now',
        onclick: async () => {
          trigger.disabled = true;
          try {
            const events = await api.post(`/bookmarks/${b.id}/trigger`);
            toast('Triggered: a new event is on its way', 'success');
            const fresh = await api.get(`/bookmarks/${b.id}`).catch(() => b);
            if (openId === b.id) draw(fresh, [...events, ...triggered]);
            list.refresh();
          } catch (err) {
            toast(err.message, 'error');
            trigger.disabled = false;
          }
        },
      });
      const del = button('Delete', {
        icon: 'trash',
        size: 'sm',
        variant: 'ghost',
        testid: 'bookmark-delete',
        onclick: async () => {
          const ok = await confirmDialog({ title: 'Delete this bookmark?', text: `“${b.label}” is removed; the request it saved stays in Requests.`, confirm: 'Delete', danger: true });
          if (!ok) return;
          try {
            await api.del(`/bookmarks/${b.id}`);
            toast('Bookmark deleted', 'success');
            close();
            list.refresh();
          } catch (err) {
            toast(err.message, 'error');
          }
        },
      });
      split.open(
        panelHeader('Bookmark', b.id, { onClose: close, actions: [del, trigger] }),
        h('div.panel-summary', h('div.summary-line', h('span.strong', b.label), b.alias ? h('span.mono.muted', b.alias) : null)),
        section(
          null,
          facts([
            ['Connection', conn ? h('a.link', { href: `#/events?webhook_id=${conn.id}` }, conn.full_name) : h('span.mono', b.webhook_id)],
            ['Destination', conn ? h('span.mono.break', conn.destination.url || conn.destination.cli_path || '') : null],
            ['Request', h('a.link.mono', { href: `#/requests/${b.event_data_id}` }, b.event_data_id)],
            ['Created', dateTime(b.created_at)],
            ['Last triggered', b.last_used_at ? dateTime(b.last_used_at) : 'Never'],
          ]),
        ),
        triggered.length
          ? section(
              'Triggered now',
              h(
                'ul.plain-list',
                { 'data-testid': 'bookmark-triggered' },
                triggered.map((e) => h('li', h('a.link.mono', { href: `#/events/${e.id}` }, e.id))),
              ),
            )
          : null,
        tabs([
          { id: 'body', label: 'Body', render: () => bodyViewer(d.body, { empty: 'No body' }) },
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
        openId = null;
        list.destroy();
        split.destroy();
      },
    };
  },
};
