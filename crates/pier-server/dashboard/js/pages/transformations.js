// Transformations: the API for them (`/transformations`, test runs) does not exist in Pier yet.
// This page says so plainly instead of showing made-up data. When the API lands, replace
// `comingSoon()` with the list + editor: the page keeps the same `{id, title, icon, mount}` shape.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { emptyState } from '../ui.js';

export function comingSoon({ title, subtitle, icon: ic, heading, text, bullets }) {
  return [
    h('div.page-head', h('div', h('h1', title, h('span.badge.badge-soon', 'Coming soon')), h('p.subtitle', subtitle))),
    h(
      'div.card.soon',
      { 'data-testid': 'coming-soon' },
      emptyState({ icon: ic, title: heading, text }),
      h('ul.soon-list', bullets.map((b) => h('li', icon('sparkles'), h('span', b)))),
    ),
  ];
}

export default {
  id: 'transformations',
  title: 'Transformations',
  icon: 'transformations',
  soon: true,
  mount(root) {
    mount(
      root,
      comingSoon({
        title: 'Transformations',
        subtitle: 'JavaScript that reshapes requests on their way to a destination.',
        icon: 'transformations',
        heading: 'Transformations are not available yet',
        text: 'Pier does not run transformations yet: connections refuse transform rules with a clear error until the rules engine lands. This page will list them once the API exists.',
        bullets: [
          'An editor with syntax highlighting and environment variables',
          'Test runs against a real request, with the output and console logs',
          'Transform rules on connections, shown in the connections picture',
        ],
      }),
    );
    return {};
  },
};
