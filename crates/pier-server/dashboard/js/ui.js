// Shared components: pills, buttons, copy, toasts, empty states, dialogs, tabs.
import { h } from './dom.js';
import { icon } from './icons.js';

export function pill(text, tone = 'gray', { dot = true, title } = {}) {
  return h('span.pill', { class: `tone-${tone}`, title }, dot ? h('span.pill-dot') : null, text);
}

export function button(label, { icon: ic, variant = 'secondary', onclick, title, type = 'button', size, testid, disabled } = {}) {
  return h(
    'button.btn',
    {
      type,
      class: [`btn-${variant}`, size ? `btn-${size}` : null, label ? null : 'btn-icon'],
      onclick,
      title: title || (label ? null : undefined),
      'aria-label': label ? null : title,
      'data-testid': testid,
      disabled,
    },
    ic ? icon(ic) : null,
    label ? h('span', label) : null,
  );
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea.sr-only', { value: text });
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

/** An icon button that copies `text` and shows a check for a moment. */
export function copyButton(text, { title = 'Copy', label } = {}) {
  const b = h(
    'button.btn.btn-ghost.btn-sm.copy-btn',
    { type: 'button', title, 'aria-label': title, class: label ? null : 'btn-icon' },
    icon('copy'),
    label ? h('span', label) : null,
  );
  b.addEventListener('click', async (e) => {
    e.stopPropagation();
    await copyText(typeof text === 'function' ? text() : text);
    b.classList.add('copied');
    b.replaceChildren(icon('check'), label ? h('span', 'Copied') : null);
    setTimeout(() => {
      b.classList.remove('copied');
      b.replaceChildren(icon('copy'), label ? h('span', label) : null);
    }, 1400);
  });
  return b;
}

let toastHost;
export function toast(message, tone = 'default', { timeout = 3500 } = {}) {
  if (!toastHost || !toastHost.isConnected) {
    toastHost = h('div.toasts', { role: 'status', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const ic = { success: 'check', error: 'alert', default: 'sparkles' }[tone] || 'sparkles';
  const t = h('div.toast', { class: `toast-${tone}` }, icon(ic), h('span', message));
  toastHost.append(t);
  setTimeout(() => {
    t.classList.add('leaving');
    setTimeout(() => t.remove(), 250);
  }, timeout);
}

export function emptyState({ icon: ic = 'inbox', title, text, action, tone } = {}) {
  return h(
    'div.empty',
    { class: tone ? `empty-${tone}` : null },
    h('div.empty-icon', icon(ic)),
    h('h3', title),
    text ? h('p', text) : null,
    action || null,
  );
}

export function spinner(label = 'Loading') {
  return h('div.loading', h('div.spinner', { role: 'status', 'aria-label': label }), h('span', label + '…'));
}

export function errorBox(err, retry) {
  return h(
    'div.error-box',
    { role: 'alert' },
    icon('alert'),
    h('div', h('strong', err.status ? `Error ${err.status}` : 'Error'), h('p', err.message || String(err))),
    retry ? button('Try again', { onclick: retry, size: 'sm' }) : null,
  );
}

/** A modal confirmation; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const dlg = h(
      'dialog.dialog',
      h('h3', title),
      text ? h('p', text) : null,
      h(
        'div.dialog-actions',
        button('Cancel', { onclick: () => close(false) }),
        button(confirm, { variant: danger ? 'danger' : 'primary', onclick: () => close(true), testid: 'confirm' }),
      ),
    );
    function close(v) {
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    dlg.addEventListener('cancel', () => close(false));
    document.body.append(dlg);
    dlg.showModal();
  });
}

/**
 * A modal form: `fields` = [{name, label, value, placeholder, hint, optional}]. Resolves the
 * values ({name: string}) or null when cancelled. `submit(values)` may throw to show an error and
 * keep the dialog open (e.g. a refused API call); its result is what the promise resolves to.
 */
export function formDialog({ title, text, fields, confirm = 'Save', testid, submit = async (v) => v }) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) =>
      h('input.input', { name: f.name, value: f.value || '', placeholder: f.placeholder || '', 'data-testid': `${testid}-${f.name}`, autocomplete: 'off' }),
    );
    const error = h('p.dialog-error', { role: 'alert', hidden: true });
    const ok = button(confirm, { variant: 'primary', type: 'submit', testid: `${testid}-submit` });
    const form = h(
      'form.dialog-form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          const values = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
          ok.disabled = true;
          try {
            const out = await submit(values);
            close(out);
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
            ok.disabled = false;
          }
        },
      },
      fields.map((f, i) => field(f.label, inputs[i], { hint: f.hint, optional: f.optional, name: f.name })),
      error,
      h('div.dialog-actions', button('Cancel', { onclick: () => close(null) }), ok),
    );
    const dlg = h('dialog.dialog', { 'data-testid': testid }, h('h3', title), text ? h('p', text) : null, form);
    function close(v) {
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    dlg.addEventListener('cancel', () => close(null));
    document.body.append(dlg);
    dlg.showModal();
    inputs[0]?.focus();
  });
}

/**
 * A JSON search input (a filter in the syntax of filter rules, on the body or the headers):
 * `onApply(value)` runs with valid JSON (or '' when cleared); invalid JSON is flagged instead.
 */
export function jsonFilterInput({ key, label, example, value, onApply }) {
  return h('input.input.input-json', {
    type: 'search',
    placeholder: `${label} JSON, e.g. ${example}`,
    'aria-label': `${label} JSON filter`,
    'data-testid': `filter-${key}`,
    value: value || '',
    onchange: (e) => {
      const v = e.target.value.trim();
      try {
        if (v) JSON.parse(v);
      } catch {
        e.target.setAttribute('aria-invalid', 'true');
        toast(`${label} filter: write JSON, e.g. ${example}`, 'error');
        return;
      }
      e.target.removeAttribute('aria-invalid');
      onApply(v);
    },
  });
}

/** The search inputs of the request and event lists: full text, and JSON on body and headers. */
export function searchInputs(filters, apply) {
  const search = h('input.input', {
    type: 'search',
    placeholder: 'Search body, headers, path',
    'aria-label': 'Search',
    'data-testid': 'filter-search',
    value: filters.search_term,
    onchange: (e) => apply({ search_term: e.target.value.trim() }),
  });
  const json = (key, label, example) => jsonFilterInput({ key, label, example, value: filters[key], onApply: (v) => apply({ [key]: v }) });
  return { search, body: json('body', 'Body', '{"type":"order"}'), headers: json('headers', 'Headers', '{"x-kind":"a"}') };
}

/** A thin progress bar (0–1). */
export function progressBar(value, { label } = {}) {
  const fill = h('span.progress-fill');
  const el = h('div.progress', { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': label || 'Progress' }, fill);
  const set = (v) => {
    const pct = Math.round(Math.max(0, Math.min(1, v || 0)) * 100);
    fill.style.width = `${pct}%`;
    el.setAttribute('aria-valuenow', String(pct));
  };
  set(value);
  return { el, set };
}

/** Tabs: [{id, label, render: () => Node}], returns the element. */
export function tabs(items, { active, onchange } = {}) {
  let current = active || items[0].id;
  const body = h('div.tab-body');
  const bar = h('div.tabs', { role: 'tablist' });
  function select(id) {
    current = id;
    for (const b of bar.children) {
      const on = b.dataset.id === id;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', String(on));
    }
    const item = items.find((i) => i.id === id);
    body.replaceChildren(item.render());
    if (onchange) onchange(id);
  }
  for (const it of items) {
    bar.append(
      h(
        'button.tab',
        { type: 'button', role: 'tab', data: { id: it.id, testid: `tab-${it.id}` }, onclick: () => select(it.id) },
        it.label,
        it.count != null ? h('span.tab-count', String(it.count)) : null,
      ),
    );
  }
  const el = h('div.tabset', bar, body);
  select(current);
  el.select = select;
  return el;
}

/** A segmented control: options [{value, label}]. */
export function segmented(options, value, onchange, { name } = {}) {
  const el = h('div.segmented', { role: 'radiogroup', 'aria-label': name });
  for (const o of options) {
    el.append(
      h(
        'button',
        {
          type: 'button',
          role: 'radio',
          'aria-checked': String(o.value === value),
          class: o.value === value ? 'on' : null,
          onclick: () => {
            for (const b of el.children) {
              b.classList.remove('on');
              b.setAttribute('aria-checked', 'false');
            }
            const b = el.children[options.indexOf(o)];
            b.classList.add('on');
            b.setAttribute('aria-checked', 'true');
            onchange(o.value);
          },
        },
        o.label,
      ),
    );
  }
  return el;
}

/** A label + control + hint/error wrapper for forms. */
export function field(label, control, { hint, name, optional, wide } = {}) {
  return h(
    'label.field',
    { class: wide ? 'field-wide' : null, data: { field: name } },
    h('span.field-label', label, optional ? h('span.optional', 'optional') : null),
    control,
    hint ? h('span.field-hint', hint) : null,
    h('span.field-error', { role: 'alert' }),
  );
}

export function select(options, value, props = {}) {
  return h(
    'select.input',
    props,
    options.map((o) => {
      const [v, l] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, l);
    }),
  );
}

/** A filters bar that folds behind a "Filters" button on phones; `count()` = active filters. */
export function filterBar(controls, count) {
  const bar = h('div.filters', controls);
  const badge = h('span.tab-count');
  const toggle = h(
    'button.btn.btn-secondary.btn-sm.filters-toggle',
    { type: 'button', 'aria-expanded': 'false', onclick: () => toggle.setAttribute('aria-expanded', String(bar.classList.toggle('open'))) },
    icon('filter'),
    h('span', 'Filters'),
    badge,
  );
  const sync = () => {
    const n = count();
    badge.textContent = String(n);
    badge.hidden = !n;
  };
  sync();
  return { bar, toggle, sync };
}
