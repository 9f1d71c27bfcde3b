// The detail panel beside a list (a sheet over it on narrow screens), and pieces used inside.
import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { copyButton } from './ui.js';

/** A split view: `list` on the left, a closable panel on the right. */
export function splitView(list, { onClose }) {
  const panelBody = h('div.panel-body');
  const panel = h('aside.panel', { 'aria-label': 'Details', 'data-testid': 'detail-panel', tabindex: '-1' }, panelBody);
  const scrim = h('div.panel-scrim', { onclick: () => onClose() });
  const el = h('div.split', h('div.split-main', list), scrim, panel);
  const onKey = (e) => {
    if (e.key === 'Escape' && el.classList.contains('has-detail') && !document.querySelector('dialog[open]')) onClose();
  };
  document.addEventListener('keydown', onKey);
  return {
    el,
    body: panelBody,
    open(...content) {
      el.classList.add('has-detail');
      mount(panelBody, ...content);
    },
    close() {
      el.classList.remove('has-detail');
      panelBody.replaceChildren();
    },
    get isOpen() {
      return el.classList.contains('has-detail');
    },
    destroy() {
      document.removeEventListener('keydown', onKey);
    },
  };
}

/** The panel's header: kind, id with copy, extra actions, close. */
export function panelHeader(kind, id, { onClose, actions = [] } = {}) {
  return h(
    'div.panel-head',
    h(
      'div.panel-title',
      h('span.panel-kind', kind),
      h('span.panel-id.mono', { title: id }, id),
      copyButton(id, { title: `Copy ${kind.toLowerCase()} id` }),
    ),
    h(
      'div.panel-actions',
      actions,
      h('button.btn.btn-ghost.btn-icon', { type: 'button', 'aria-label': 'Close', title: 'Close (Esc)', 'data-testid': 'panel-close', onclick: onClose }, icon('x')),
    ),
  );
}

/** A definition grid: [[label, value], …]. */
export function facts(pairs) {
  return h(
    'dl.facts',
    pairs.filter(Boolean).map(([k, v]) => [h('dt', k), h('dd', v == null || v === '' ? h('span.muted', '—') : v)]),
  );
}

export function section(title, ...content) {
  return h('section.panel-section', title ? h('h4.section-title', title) : null, content);
}
