// The shell: sign-in gate, left navigation, hash router. Each page is a module exporting
// `{ id, title, icon, mount(root, ctx) → { update?(ctx), unmount?() } }`; add a page by adding
// it to PAGES.
import { h, mount } from './dom.js';
import { icon, logo } from './icons.js';
import { API_VERSION, names, session, setUnauthorizedHandler } from './api.js';
import signin from './pages/signin.js';
import connections from './pages/connections.js';
import requests from './pages/requests.js';
import events from './pages/events.js';
import transformations from './pages/transformations.js';
import metrics from './pages/metrics.js';
import bookmarks from './pages/bookmarks.js';

const PAGES = [connections, requests, events, bookmarks, transformations, metrics];
const DEFAULT = '#/connections';

const app = document.getElementById('app');
let shell = null; // {root, nav, main, title}
let current = null; // {page, handle, root}
let notice = null;
let lastHash = null; // the location last routed

/** '#/events/evt_1?status=FAILED' → {name:'events', parts:['evt_1'], query} */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', parts: parts.slice(1), query: new URLSearchParams(qs || '') };
}

export function navigate(hash, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  route();
}

/** Replace the query of the current route (filters) without adding history entries. */
export function setQuery(params) {
  const { name, parts } = parseHash();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
  const qs = q.toString();
  history.replaceState(null, '', `#/${[name, ...parts].map(encodeURIComponent).join('/')}${qs ? '?' + qs : ''}`);
  lastHash = location.hash;
}

function signOut(message) {
  session.clear();
  names.clear();
  notice = message || null;
  teardown();
  shell = null;
  lastHash = null;
  navigate('#/signin', { replace: true });
}

setUnauthorizedHandler(() => signOut('Your session ended: the API key was refused. Sign in again.'));

function teardown() {
  if (current && current.handle && current.handle.unmount) current.handle.unmount();
  current = null;
}

function buildShell() {
  const navLinks = PAGES.map((p) =>
    h(
      'a.nav-link',
      { href: `#/${p.id}`, data: { page: p.id, testid: `nav-${p.id}` } },
      icon(p.icon),
      h('span', p.title),
      p.soon ? h('span.nav-soon', 'Soon') : null,
    ),
  );
  const key = session.key || '';
  const closeNav = () => root.classList.remove('nav-open');
  const nav = h(
    'nav.sidebar',
    { 'aria-label': 'Main' },
    h('div.brand', logo(), h('span.brand-name', 'Pier'), h('span.brand-tag', 'gateway')),
    h('div.nav-section', h('div.nav-heading', 'Project'), navLinks),
    h(
      'div.sidebar-foot',
      h(
        'div.key-chip',
        { title: 'Signed in with this API key' },
        icon('key'),
        h('span.mono', `••••${key.length > 12 ? key.slice(-4) : ''}`),
        h('span.api-version', API_VERSION),
      ),
      h(
        'button.btn.btn-ghost.signout',
        { type: 'button', 'data-testid': 'signout', onclick: () => signOut() },
        icon('logout'),
        h('span', 'Sign out'),
      ),
    ),
  );
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) closeNav();
  });
  const title = h('span.topbar-title');
  const topbar = h(
    'header.topbar',
    h(
      'button.btn.btn-ghost.btn-icon.menu-btn',
      { type: 'button', 'aria-label': 'Menu', 'data-testid': 'menu', onclick: () => root.classList.toggle('nav-open') },
      icon('menu'),
    ),
    h('div.topbar-brand', logo(), title),
  );
  const main = h('main.main', { id: 'main' });
  const scrim = h('div.scrim', { onclick: closeNav });
  const root = h('div.shell', nav, scrim, h('div.content', topbar, main));
  mount(app, root);
  return { root, nav, main, title, links: navLinks };
}

function route() {
  // A link click fires both popstate and hashchange: route each location once.
  if (location.hash === lastHash && current) return;
  lastHash = location.hash;
  const { name, parts, query } = parseHash();
  if (!session.key) {
    if (name !== 'signin') history.replaceState(null, '', '#/signin');
    // Remember the sign-in location, so the page asked for is routed after signing in.
    lastHash = location.hash;
    teardown();
    shell = null;
    const handle = signin.mount(app, {
      notice,
      onSignedIn: () => {
        notice = null;
        const back = sessionStorage.getItem('pier.after') || DEFAULT;
        sessionStorage.removeItem('pier.after');
        navigate(back, { replace: true });
      },
    });
    current = { page: signin, handle };
    return;
  }
  if (name === 'signin' || name === '') {
    navigate(DEFAULT, { replace: true });
    return;
  }
  const page = PAGES.find((p) => p.id === name);
  if (!page) {
    navigate(DEFAULT, { replace: true });
    return;
  }
  if (!shell) shell = buildShell();
  for (const a of shell.links) {
    const on = a.dataset.page === page.id;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  shell.title.textContent = page.title;
  document.title = `${page.title} · Pier`;
  const ctx = { parts, query, navigate, setQuery };
  if (current && current.page === page && current.handle && current.handle.update) {
    current.handle.update(ctx);
    return;
  }
  teardown();
  const root = h('div.page', { data: { page: page.id } });
  mount(shell.main, root);
  shell.main.scrollTop = 0;
  current = { page, handle: page.mount(root, ctx) || {}, root };
}

window.addEventListener('popstate', route);
window.addEventListener('hashchange', route);
if (!session.key && location.hash && !location.hash.startsWith('#/signin')) {
  sessionStorage.setItem('pier.after', location.hash);
}
route();
