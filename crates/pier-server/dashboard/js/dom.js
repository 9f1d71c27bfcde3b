// A tiny DOM helper: h('div.card#main', {onclick, class, data: {...}}, children…).
// Children may be strings, numbers, nodes, arrays (flattened) or null/false (skipped).
// Text is always inserted as text nodes, never as HTML, so API data cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function h(spec, props, ...children) {
  if (props == null || typeof props !== 'object' || props instanceof Node || Array.isArray(props)) {
    if (props !== undefined) children.unshift(props);
    props = {};
  }
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const tag = (m && m[1]) || 'div';
  const el = document.createElement(tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') {
      for (const c of [].concat(v)) if (c) el.classList.add(...String(c).split(/\s+/).filter(Boolean));
    } else if (k === 'style' && typeof v === 'object') {
      Object.assign(el.style, v);
    } else if (k === 'data') {
      for (const [dk, dv] of Object.entries(v)) if (dv != null) el.dataset[dk] = dv;
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'textContent') {
      el[k] = v;
    } else if (k === 'ref' && typeof v === 'function') {
      v(el);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace every child of `el` with `children`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An SVG element from a trusted, hard-coded markup string (icons only). */
export function svg(markup, cls) {
  const tpl = document.createElementNS(SVG_NS, 'svg');
  tpl.setAttribute('viewBox', '0 0 24 24');
  tpl.setAttribute('fill', 'none');
  tpl.setAttribute('stroke', 'currentColor');
  tpl.setAttribute('stroke-width', '1.8');
  tpl.setAttribute('stroke-linecap', 'round');
  tpl.setAttribute('stroke-linejoin', 'round');
  tpl.setAttribute('aria-hidden', 'true');
  tpl.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
  // Parsed as SVG, from constants in icons.js: never from data.
  const doc = new DOMParser().parseFromString(`<svg xmlns="${SVG_NS}">${markup}</svg>`, 'image/svg+xml');
  for (const n of [...doc.documentElement.childNodes]) tpl.append(document.importNode(n, true));
  return tpl;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
