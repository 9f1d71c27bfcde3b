// Pretty JSON with folding, and a viewer with a tree/raw switch and copy.
import { h } from './dom.js';
import { icon } from './icons.js';
import { copyButton } from './ui.js';

const FOLD_DEPTH = 3; // deeper objects start folded
const FOLD_SIZE = 50; // larger arrays/objects start folded

function scalar(v) {
  if (v === null) return h('span.j-null', 'null');
  switch (typeof v) {
    case 'string':
      return h('span.j-str', JSON.stringify(v));
    case 'number':
      return h('span.j-num', String(v));
    case 'boolean':
      return h('span.j-bool', String(v));
    default:
      return h('span', String(v));
  }
}

function node(value, key, depth, last) {
  const keyEl = key != null ? [h('span.j-key', typeof key === 'number' ? String(key) : JSON.stringify(key)), h('span.j-punct', ': ')] : [];
  const comma = last ? null : h('span.j-punct', ',');
  const isArr = Array.isArray(value);
  if (value === null || typeof value !== 'object') {
    return h('div.j-line', keyEl, scalar(value), comma);
  }
  const entries = isArr ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = isArr ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return h('div.j-line', keyEl, h('span.j-punct', open + close), comma);
  }
  const folded = depth >= FOLD_DEPTH || entries.length > FOLD_SIZE;
  const summary = isArr ? `${entries.length} item${entries.length === 1 ? '' : 's'}` : `${entries.length} key${entries.length === 1 ? '' : 's'}`;
  const el = h('div.j-node', { class: folded ? 'folded' : null });
  const toggle = h('button.j-toggle', { type: 'button', 'aria-label': 'Fold', 'aria-expanded': String(!folded) }, icon('chevronDown'));
  const head = h(
    'div.j-line.j-head',
    toggle,
    keyEl,
    h('span.j-punct', open),
    h('span.j-summary', h('span.j-ellipsis', '…'), h('span.j-count', summary), h('span.j-punct', close), comma),
  );
  const children = h('div.j-children');
  // Children are rendered lazily the first time the node is opened (large payloads stay fast).
  let rendered = false;
  const render = () => {
    if (rendered) return;
    rendered = true;
    entries.forEach(([k, v], i) => children.append(node(v, isArr ? null : k, depth + 1, i === entries.length - 1)));
  };
  if (!folded) render();
  const foot = h('div.j-line.j-foot', h('span.j-punct', close), comma);
  const flip = (open) => {
    if (open) render();
    el.classList.toggle('folded', !open);
    toggle.setAttribute('aria-expanded', String(open));
  };
  el._flip = flip;
  el._render = render;
  toggle.addEventListener('click', () => flip(el.classList.contains('folded')));
  head.addEventListener('dblclick', () => flip(el.classList.contains('folded')));
  el.append(head, children, foot);
  return el;
}

/** A folding tree of `value`. */
export function jsonTree(value) {
  return h('div.json-tree', node(value, null, 0, true));
}

function setAll(tree, open) {
  const walk = (root) => {
    for (const n of root.querySelectorAll(':scope .j-node')) {
      if (open) n._render();
    }
  };
  if (open) {
    // Render level by level so lazily built children are included.
    let before = -1;
    while (before !== tree.querySelectorAll('.j-node').length) {
      before = tree.querySelectorAll('.j-node').length;
      walk(tree);
    }
  }
  for (const n of tree.querySelectorAll('.j-node')) n._flip(open);
  if (!open) {
    const top = tree.querySelector('.j-node');
    if (top) top._flip(true);
  }
}

/**
 * A body viewer: JSON (tree with folding, or raw) or text. `raw` is the body as received when
 * known (else the JSON is re-serialised).
 */
export function bodyViewer(value, { raw, title = 'Body', empty = 'No body', badge = true } = {}) {
  const isJson = value !== null && typeof value === 'object';
  const rawText = raw != null ? raw : isJson ? JSON.stringify(value, null, 2) : value == null ? '' : String(value);
  const wrap = h('div.viewer', { data: { testid: 'body-viewer' } });
  const content = h('div.viewer-content');
  let mode = isJson ? 'tree' : 'raw';
  const modeBtns = h('div.segmented.segmented-sm');
  const tools = h('div.viewer-tools');
  function draw() {
    if (!rawText && !isJson) {
      content.replaceChildren(h('div.viewer-empty', empty));
      return;
    }
    if (mode === 'tree' && isJson) {
      content.replaceChildren(jsonTree(value));
    } else {
      content.replaceChildren(h('pre.raw', rawText));
    }
    tools.hidden = mode !== 'tree';
    for (const b of modeBtns.children) b.classList.toggle('on', b.dataset.mode === mode);
  }
  if (isJson) {
    for (const [m, label, ic] of [['tree', 'Pretty', 'braces'], ['raw', 'Raw', 'text']]) {
      modeBtns.append(
        h('button', { type: 'button', data: { mode: m }, onclick: () => ((mode = m), draw()) }, icon(ic), label),
      );
    }
    tools.append(
      h('button.btn.btn-ghost.btn-sm.btn-icon', { type: 'button', title: 'Expand all', 'aria-label': 'Expand all', onclick: () => setAll(content, true) }, icon('unfold')),
      h('button.btn.btn-ghost.btn-sm.btn-icon', { type: 'button', title: 'Collapse all', 'aria-label': 'Collapse all', onclick: () => setAll(content, false) }, icon('fold')),
    );
  }
  const bar = h(
    'div.viewer-bar',
    h('span.viewer-title', title, !badge ? null : isJson ? h('span.badge', 'JSON') : rawText ? h('span.badge', 'Text') : null),
    h('div.viewer-actions', tools, isJson ? modeBtns : null, rawText ? copyButton(() => rawText, { title: 'Copy body' }) : null),
  );
  wrap.append(bar, content);
  draw();
  return wrap;
}

/** A key/value table (headers, query). */
export function kvTable(obj, { empty = 'None' } = {}) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h('div.viewer-empty', empty);
  return h(
    'div.kv',
    entries.map(([k, v]) =>
      h('div.kv-row', h('div.kv-key', k), h('div.kv-val', typeof v === 'string' ? v : JSON.stringify(v))),
    ),
  );
}
