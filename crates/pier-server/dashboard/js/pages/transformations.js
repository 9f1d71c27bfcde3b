// Transformations: JavaScript that reshapes requests on their way to a destination. The list
// beside an editor (name, code with local syntax highlighting, env variables as rows), a test-run
// pane (a recent request or an edited sample → the request the code returns, and its console),
// and the executions of the selected transformation, live. Routes: `#/transformations`,
// `#/transformations/new`, `#/transformations/{id}`. On phones the list and the editor are two
// screens.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { button, confirmDialog, emptyState, errorBox, field, pill, spinner, toast } from '../ui.js';
import { bodyViewer } from '../json.js';
import { dateTime, plural, relTime, shortTime, titleCase } from '../format.js';
import { codeEditor } from '../code_editor.js';
import { sourceName } from './requests.js';

export const TEMPLATE =
  'addHandler("transform", (request, context) => {\n  // request: {headers, body, query, parsed_query, path}; env: process.env / context.env\n  return request;\n});';

const SAMPLE = {
  headers: { 'content-type': 'application/json', 'user-agent': 'pier-sample/1.0' },
  body: { type: 'order.created', id: 'ord_123', total: 42.5, currency: 'EUR' },
  path: '/webhooks/orders',
  query: 'ref=dashboard',
};
const sampleText = (req) => JSON.stringify(req, null, 2);
// The sample request survives moving between transformations (and pages) in this tab.
let lastSample = sampleText(SAMPLE);

const NAME_RE = /^[A-Za-z0-9_-]{1,155}$/;
const CONSOLE_TONES = { error: 'red', warn: 'amber', info: 'blue', debug: 'violet', log: 'gray' };

/** The "coming soon" card (still used by the Metrics page). */
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

/** The connections whose transform rules use transformation `id`. */
function usedBy(id) {
  return [...names.connections.values()].filter((c) => (c.rules || []).some((r) => r.type === 'transform' && r.transformation_id === id));
}

/** Console lines ([{type, message}]) as a list. */
function consoleLines(logs, { empty = 'No console output.' } = {}) {
  if (!logs || !logs.length) return h('div.viewer-empty', empty);
  return h(
    'ol.tf-console',
    logs.map((l) =>
      h(
        'li.tf-line',
        { class: `tf-line-${CONSOLE_TONES[l.type] || 'gray'}`, data: { testid: 'console-line', type: l.type } },
        h('span.tf-line-type', l.type),
        h('span.tf-line-msg', l.message),
      ),
    ),
  );
}

/** A viewer-like box: a title bar and content. */
function pane(title, { badge, actions, testid } = {}, ...content) {
  return h(
    'div.viewer.tf-pane',
    { 'data-testid': testid },
    h('div.viewer-bar', h('span.viewer-title', title, badge ? h('span.badge', badge) : null), h('div.viewer-actions', actions)),
    content,
  );
}

/** JSON with sorted keys, to compare values whatever their key order. */
function stable(v) {
  if (Array.isArray(v)) return '[' + v.map(stable).join(',') + ']';
  if (v && typeof v === 'object') return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stable(v[k])).join(',') + '}';
  return JSON.stringify(v ?? null);
}

export default {
  id: 'transformations',
  title: 'Transformations',
  icon: 'transformations',
  mount(root, ctx) {
    let items = null; // every transformation, newest first (null while loading)
    let listError = null;
    let filter = '';
    let current = null; // {id (null for a new one), saved: {name, code, env} | null}
    let ed = null; // the open editor's parts
    let openSeq = 0;
    let destroyed = false;

    // ---------- the list ----------
    const listBody = h('div.tf-items', spinner('Loading'));
    const search = h('input.input.input-search', {
      type: 'search',
      placeholder: 'Filter by name…',
      'aria-label': 'Filter transformations',
      oninput: (e) => {
        filter = e.target.value.trim().toLowerCase();
        drawList();
      },
    });
    const listCount = h('span.tab-count');
    const listCard = h(
      'aside.card.tf-list',
      { 'data-testid': 'transformations-list', 'aria-label': 'Transformations' },
      h('div.tf-list-head', h('span.tf-list-title', 'All transformations', listCount), h('div.search-wrap', icon('search'), search)),
      listBody,
    );
    const work = h('div.tf-work');
    const layout = h('div.tf-layout', listCard, work);

    mount(
      root,
      h(
        'div.page-head',
        h('div', h('h1', 'Transformations'), h('p.subtitle', 'JavaScript that reshapes requests on their way to a destination, run by the transform rules of connections.')),
        h('div.page-actions', h('a.btn.btn-primary', { href: '#/transformations/new', 'data-testid': 'new-transformation' }, icon('plus'), h('span', 'New transformation'))),
      ),
      layout,
    );

    async function loadList() {
      try {
        const [list] = await Promise.all([api.all('/transformations'), names.refresh().catch(() => {})]);
        if (destroyed) return;
        items = list;
        listError = null;
      } catch (err) {
        if (destroyed) return;
        listError = err;
      }
      drawList();
      if (!current) drawPlaceholder();
    }

    function drawList() {
      if (listError) return mount(listBody, errorBox(listError, () => loadList()));
      if (items == null) return;
      listCount.textContent = String(items.length);
      layout.classList.toggle('tf-empty', !items.length && !current);
      const shown = items.filter((t) => !filter || t.name.toLowerCase().includes(filter));
      const draft = current && !current.id ? draftItem() : null;
      if (!items.length && !draft) return mount(listBody, h('div.tf-list-empty', icon('transformations'), h('span', 'No transformations yet')));
      mount(listBody, draft, shown.length || draft ? shown.map(item) : h('div.tf-list-empty', icon('search'), h('span', `Nothing named like “${filter}”`)));
    }

    function draftItem() {
      return h(
        'a.tf-item.active',
        { href: '#/transformations/new', 'aria-current': 'page' },
        h('span.tf-item-icon', icon('plus')),
        h('span.tf-item-main', h('span.tf-item-name', (ed && ed.name.value.trim()) || 'New transformation'), h('span.tf-item-meta', 'Not saved yet')),
      );
    }

    function item(t) {
      const active = current && current.id === t.id;
      const uses = usedBy(t.id).length;
      return h(
        'a.tf-item',
        { href: `#/transformations/${t.id}`, class: active ? 'active' : null, 'aria-current': active ? 'page' : null, data: { testid: 'transformation-item', name: t.name, id: t.id } },
        h('span.tf-item-icon', icon('transformations')),
        h(
          'span.tf-item-main',
          h('span.tf-item-name', t.name),
          h('span.tf-item-meta', { title: dateTime(t.updated_at) }, `Updated ${relTime(t.updated_at)}`),
        ),
        uses ? h('span.tf-item-uses', { title: `Used by ${plural(uses, 'connection')}` }, icon('connections'), String(uses)) : null,
      );
    }

    function drawPlaceholder() {
      if (current || items == null) return;
      mount(
        work,
        h(
          'div.card.tf-placeholder',
          emptyState({
            icon: 'transformations',
            title: items.length ? 'Pick a transformation' : 'Create your first transformation',
            text: 'A transformation receives each request (headers, body, path, query) and returns it changed: rename fields, add headers, drop secrets. Connections run it with a transform rule.',
            action: h('a.btn.btn-primary', { href: '#/transformations/new' }, icon('plus'), h('span', 'New transformation')),
          }),
        ),
      );
    }

    // ---------- the test run (one pane for the page, kept across transformations) ----------
    let recent = new Map(); // request id → request (with data)
    const reqSelect = h('select.input.tf-req-select', {
      'aria-label': 'Request to test with',
      'data-testid': 'run-request',
      onchange: () => pickRequest(reqSelect.value),
    });
    const input = codeEditor({
      value: lastSample,
      lang: 'json',
      label: 'Request to run, as JSON',
      testid: 'run-input',
      minRows: 14,
      maxRows: 14,
      onchange: (v) => {
        lastSample = v;
        inputError.hidden = true;
      },
      onrun: () => run(),
    });
    const inputError = h('div.tf-input-error', { role: 'alert', hidden: true });
    const runBtn = button('Run', { icon: 'play', variant: 'primary', testid: 'tf-run', title: 'Run the code on this request (Ctrl+Enter)', onclick: () => run() });
    const runStatus = h('div.tf-run-status', { 'data-testid': 'run-status' });
    const outputHost = h('div.tf-output', { 'data-testid': 'run-output' });
    const consoleHost = h('div', { 'data-testid': 'run-console' });
    const resetBtn = button('', {
      icon: 'retry',
      variant: 'ghost',
      size: 'sm',
      title: 'Back to the sample request',
      onclick: () => {
        reqSelect.value = '';
        setInput(sampleText(SAMPLE));
      },
    });
    const testCard = h(
      'section.card.tf-card.tf-test',
      { 'aria-label': 'Test run' },
      h(
        'div.tf-card-head',
        h('div', h('h3', 'Test run'), h('p.muted', 'Run the code on a request: nothing is delivered or recorded.')),
        h('div.tf-test-controls', reqSelect, runBtn),
      ),
      runStatus,
      h(
        'div.tf-test-grid',
        pane('Input request', { badge: 'JSON', actions: [resetBtn] }, input.el, inputError),
        h('div.tf-out-col', outputHost),
      ),
      h('div.tf-console-wrap', consoleHost),
    );
    function drawIdleOutput() {
      runStatus.replaceChildren();
      mount(outputHost, pane('Output request', {}, h('div.viewer-empty.tf-idle', icon('play'), h('span', 'Run the code to see the request it returns.'))));
      mount(consoleHost, pane('Console', {}, h('div.viewer-empty', 'console.log() output appears here.')));
    }
    drawIdleOutput();

    function setInput(text) {
      input.value = text;
      lastSample = text;
      inputError.hidden = true;
    }

    async function loadRequests() {
      try {
        const [res] = await Promise.all([api.get('/requests', { limit: 20, include: 'data' }), names.refresh().catch(() => {})]);
        if (destroyed) return;
        recent = new Map(res.models.filter((r) => r.data).map((r) => [r.id, r]));
      } catch {
        recent = new Map();
      }
      const keep = reqSelect.value;
      mount(
        reqSelect,
        h('option', { value: '' }, 'Sample request'),
        recent.size
          ? h(
              'optgroup',
              { label: 'Recent requests' },
              [...recent.values()].map((r) =>
                h('option', { value: r.id }, `${shortTime(r.created_at)} · ${sourceName(r.source_id)} ${r.data.path || '/'}${r.rejection_cause ? ' · rejected' : ''}`),
              ),
            )
          : null,
      );
      reqSelect.value = recent.has(keep) ? keep : '';
    }

    function pickRequest(id) {
      const r = recent.get(id);
      if (!r) return setInput(sampleText(SAMPLE));
      const d = r.data;
      setInput(sampleText({ headers: d.headers || {}, body: d.body ?? null, path: d.path || '/', query: d.query || '' }));
    }

    /** The sample as the API wants it, or throws a readable message. */
    function readSample() {
      let v;
      try {
        v = JSON.parse(input.value);
      } catch (e) {
        throw new Error(`The input is not valid JSON: ${e.message}`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('The input must be an object: {"headers": {…}, "body": …, "path": "/…", "query": "a=1"}');
      if (v.headers != null && (typeof v.headers !== 'object' || Array.isArray(v.headers))) throw new Error('"headers" must be an object of names to values');
      if (v.path != null && typeof v.path !== 'string') throw new Error('"path" must be a string, like "/webhooks"');
      if (v.query != null && typeof v.query !== 'string') throw new Error('"query" must be a string, like "a=1&b=2"');
      const req = { headers: v.headers || {}, body: v.body === undefined ? null : v.body, path: v.path || '/', query: v.query || '' };
      if (v.parsed_query && typeof v.parsed_query === 'object') req.parsed_query = v.parsed_query;
      return req;
    }

    async function run() {
      if (!ed || runBtn.classList.contains('busy')) return;
      let req, env;
      try {
        req = readSample();
      } catch (e) {
        inputError.replaceChildren(icon('alert'), h('span', e.message));
        inputError.hidden = false;
        return;
      }
      env = readEnv();
      if (env.error) return;
      runBtn.classList.add('busy');
      runBtn.disabled = true;
      const t0 = performance.now();
      try {
        const res = await api.put('/transformations/run', { code: ed.code.value, env: env.value, request: req });
        if (destroyed) return;
        drawRun(res, req, Math.round(performance.now() - t0));
      } catch (err) {
        if (destroyed) return;
        runStatus.replaceChildren();
        mount(outputHost, errorBox(err));
      } finally {
        runBtn.classList.remove('busy');
        runBtn.disabled = false;
      }
    }

    function drawRun(res, req, took) {
      const ok = res.log_level !== 'error' && res.request;
      const changes = [];
      if (ok) {
        for (const [k, label] of [['body', 'Body'], ['headers', 'Headers'], ['path', 'Path'], ['query', 'Query']]) {
          if (stable(res.request[k]) !== stable(req[k])) changes.push(label);
        }
      }
      mount(
        runStatus,
        pill(ok ? 'Success' : 'Error', ok ? 'green' : 'red'),
        h('span.muted', `ran in ${took} ms`),
        ok ? h('span.tf-changes', changes.length ? changes.map((c) => h('span.chip', icon('edit'), `${c} changed`)) : h('span.chip', 'Request unchanged')) : null,
      );
      if (ok) {
        mount(outputHost, bodyViewer(res.request, { title: 'Output request', badge: false }));
      } else {
        const errors = (res.console || []).filter((l) => l.type === 'error');
        const message = errors.length ? errors[errors.length - 1].message : 'The transformation failed.';
        mount(
          outputHost,
          pane('Output request', {}, h('div.tf-run-error', { role: 'alert' }, icon('alert'), h('div', h('strong', 'The transformation failed: the request would be ignored'), h('pre', message)))),
        );
      }
      const logs = res.console || [];
      mount(consoleHost, pane('Console', { badge: logs.length ? String(logs.length) : null }, consoleLines(logs)));
    }

    // ---------- the editor ----------
    const snapshot = (t) => ({ name: t.name, code: t.code, env: stable(t.env || {}) });

    function envRow(k = '', v = '') {
      const onInput = () => {
        envField.classList.remove('invalid');
        changed();
      };
      const key = h('input.input.mono', { value: k, placeholder: 'NAME', 'aria-label': 'Variable name', 'data-testid': 'env-key', spellcheck: 'false', autocomplete: 'off', oninput: onInput });
      const val = h('input.input.mono', { value: v, placeholder: 'value', 'aria-label': 'Variable value', 'data-testid': 'env-value', spellcheck: 'false', autocomplete: 'off', oninput: onInput });
      const row = h(
        'div.tf-env-row',
        key,
        val,
        button('', {
          icon: 'x',
          variant: 'ghost',
          title: 'Remove variable',
          onclick: () => {
            row.remove();
            drawEnvEmpty();
            onInput();
          },
        }),
      );
      return row;
    }
    let envRows, envField, envEmpty;
    function drawEnvEmpty() {
      envEmpty.hidden = envRows.children.length > 0;
    }

    /** The env rows as an object, or {error} (shown on the field). */
    function readEnv() {
      const out = {};
      for (const row of envRows.children) {
        const [k, v] = row.querySelectorAll('input');
        const key = k.value.trim();
        if (!key && !v.value) continue;
        let msg = null;
        if (!key) msg = 'Every variable needs a name.';
        else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) msg = `“${key}”: names use letters, digits and _, and do not start with a digit.`;
        else if (key in out) msg = `“${key}” is set twice.`;
        if (msg) {
          setError('env', msg);
          k.focus();
          return { error: msg };
        }
        out[key] = v.value;
      }
      return { value: out };
    }

    function draft() {
      const env = {};
      for (const row of envRows.children) {
        const [k, v] = row.querySelectorAll('input');
        if (k.value.trim() || v.value) env[k.value.trim()] = v.value;
      }
      return { name: ed.name.value.trim(), code: ed.code.value, env: stable(env) };
    }
    function isDirty() {
      if (!ed) return false;
      if (!current.saved) return true;
      const now = draft();
      return now.name !== current.saved.name || now.code !== current.saved.code || now.env !== current.saved.env;
    }
    function changed() {
      if (!ed) return;
      drawState();
      if (!current.id) {
        const d = listBody.querySelector('.tf-item.active .tf-item-name');
        if (d) d.textContent = ed.name.value.trim() || 'New transformation';
      }
    }
    function drawState() {
      const dirty = isDirty();
      ed.state.replaceChildren(
        !current.id
          ? pill('Not saved yet', 'amber')
          : dirty
            ? pill('Unsaved changes', 'amber')
            : h('span.tf-saved', { title: dateTime(ed.updatedAt) }, icon('check'), `Saved ${relTime(ed.updatedAt)}`),
      );
      ed.save.disabled = !dirty;
    }

    function setError(name, message) {
      const f = ed && ed.card.querySelector(`[data-field="${name}"]`);
      if (!f) return showFormError(message);
      f.classList.add('invalid');
      f.querySelector('.field-error').textContent = message;
    }
    function clearErrors() {
      if (!ed) return;
      for (const f of ed.card.querySelectorAll('.invalid')) f.classList.remove('invalid');
      ed.formError.hidden = true;
    }
    function showFormError(message) {
      ed.formError.replaceChildren(icon('alert'), h('span', message));
      ed.formError.hidden = false;
    }

    function drawEditor(t) {
      const name = h('input.input.mono', {
        value: t.name,
        placeholder: 'my-transformation',
        'data-testid': 'tf-name',
        spellcheck: 'false',
        autocomplete: 'off',
        oninput: () => {
          name.closest('.field').classList.remove('invalid');
          changed();
        },
      });
      const code = codeEditor({
        value: t.code,
        lang: 'js',
        label: 'Code',
        testid: 'tf-code',
        onchange: () => {
          codeField.classList.remove('invalid');
          changed();
        },
        onsave: () => save(),
        onrun: () => run(),
      });
      const codeField = h(
        'div.field.tf-code-field',
        { data: { field: 'code' } },
        h('div.tf-code-label', h('span.field-label', 'Code'), h('span.tf-hint', h('kbd', 'Ctrl'), '+', h('kbd', 'S'), ' save · ', h('kbd', 'Ctrl'), '+', h('kbd', 'Enter'), ' run')),
        code.el,
        h('span.field-error', { role: 'alert' }),
      );
      envRows = h('div.tf-env-rows', { 'data-testid': 'env-rows' }, Object.entries(t.env || {}).map(([k, v]) => envRow(k, typeof v === 'string' ? v : JSON.stringify(v))));
      envEmpty = h('div.tf-env-empty', 'No variables. Keep secrets and settings here rather than in the code.');
      envField = h(
        'div.field.tf-env',
        { data: { field: 'env' } },
        h(
          'div.tf-env-head',
          h('div', h('span.field-label', 'Environment variables'), h('span.field-hint', 'Strings, read as ', h('code', 'process.env.NAME'), ' or ', h('code', 'context.env.NAME'), '.')),
          button('Add variable', {
            icon: 'plus',
            size: 'sm',
            testid: 'env-add',
            onclick: () => {
              const row = envRow();
              envRows.append(row);
              drawEnvEmpty();
              row.querySelector('input').focus();
            },
          }),
        ),
        envRows,
        envEmpty,
        h('span.field-error', { role: 'alert' }),
      );
      const saveBtn = button(current.id ? 'Save' : 'Create', { icon: 'check', variant: 'primary', testid: 'tf-save', title: 'Save (Ctrl+S)', onclick: () => save() });
      const del = current.id
        ? button('', { icon: 'trash', variant: 'ghost', testid: 'tf-delete', title: 'Delete this transformation', onclick: () => remove() })
        : null;
      const state = h('div.tf-state', { 'data-testid': 'tf-state' });
      const formError = h('div.form-error', { role: 'alert', hidden: true });
      const card = h(
        'section.card.tf-card.tf-editor',
        { 'data-testid': 'transformation-editor', 'aria-label': 'Editor' },
        h('a.back.tf-back', { href: '#/transformations' }, icon('chevronLeft'), 'All transformations'),
        h('div.tf-editor-head', field('Name', name, { name: 'name' }), h('div.tf-editor-actions', state, del, saveBtn)),
        formError,
        codeField,
        envField,
      );
      ed = { card, name, code, save: saveBtn, state, formError, updatedAt: t.updated_at, exec: null };
      drawEnvEmpty();
      drawState();
      const execCard = current.id ? executionsCard(current.id) : null;
      mount(work, card, testCard, execCard ? execCard.el : newHint());
      ed.exec = execCard;
      if (!recent.size) loadRequests();
    }

    function newHint() {
      return h(
        'section.card.tf-card.tf-exec-card',
        h('div.tf-card-head', h('div', h('h3', 'Executions'), h('p.muted', 'Every run by a connection is recorded here, with its console output.'))),
        h('div.viewer-empty.tf-exec-empty', 'Save the transformation, then use it in a transform rule of a connection.'),
      );
    }

    async function save() {
      if (!ed || ed.save.classList.contains('busy')) return;
      clearErrors();
      const nameValue = ed.name.value.trim();
      if (!NAME_RE.test(nameValue)) {
        setError('name', nameValue ? 'Use letters, digits, - and _ only (at most 155).' : 'Give it a name.');
        ed.name.focus();
        return;
      }
      if (!ed.code.value.trim()) {
        setError('code', 'The code is empty.');
        return;
      }
      const env = readEnv();
      if (env.error) return;
      const body = { name: nameValue, code: ed.code.value, env: env.value };
      const wasNew = !current.id;
      ed.save.classList.add('busy');
      ed.save.disabled = true;
      try {
        const t = wasNew ? await api.post('/transformations', body) : await api.put(`/transformations/${current.id}`, body);
        if (destroyed) return;
        current = { id: t.id, saved: snapshot(t) };
        items = [t, ...(items || []).filter((x) => x.id !== t.id)];
        toast(wasNew ? `${t.name} created` : `${t.name} saved`, 'success');
        if (wasNew) {
          // Same editor, now of a saved transformation (the test-run output stays).
          ctx.navigate(`#/transformations/${t.id}`, { replace: true });
          drawEditor(t);
          ed.code.focus();
        } else {
          ed.updatedAt = t.updated_at;
          ed.save.classList.remove('busy');
          drawState();
        }
        drawList();
      } catch (err) {
        if (destroyed || !ed) return;
        ed.save.classList.remove('busy');
        ed.save.disabled = false;
        if (err.status === 409) setError('name', `A transformation named “${nameValue}” already exists. Pick another name, or open it from the list.`);
        else if (err.field && /^env\./.test(err.field)) setError('env', `${err.field.slice(4)}: ${err.message}`);
        else if (err.field) setError(err.field, err.message);
        else showFormError(err.message);
      }
    }

    async function remove() {
      const id = current.id;
      const t = (items || []).find((x) => x.id === id);
      const uses = usedBy(id);
      const ok = await confirmDialog({
        title: `Delete ${t ? t.name : 'this transformation'}?`,
        text: uses.length
          ? `${plural(uses.length, 'connection')} (${uses.map((c) => c.name).join(', ')}) use it: their requests will be ignored until their transform rule changes.`
          : 'No connection uses it. Its executions are kept.',
        confirm: 'Delete',
        danger: true,
      });
      if (!ok) return;
      try {
        await api.del(`/transformations/${id}`);
        items = (items || []).filter((x) => x.id !== id);
        current = null;
        ed = null;
        toast(`${t ? t.name : id} deleted`, 'success');
        ctx.navigate('#/transformations');
      } catch (err) {
        toast(err.message, 'error');
      }
    }

    // ---------- executions of the open transformation, live ----------
    function executionsCard(id) {
      let first = []; // the newest page, polled
      let older = []; // pages loaded with "Older"
      let next = null;
      let shown = '';
      let timer = null;
      let stopped = false;
      const opened = new Set();
      const body = h('div.tf-execs', spinner('Loading executions'));
      const uses = h('div.tf-uses');
      const more = button('Load older', { size: 'sm', icon: 'chevronDown', onclick: () => loadOlder() });
      more.hidden = true;
      const el = h(
        'section.card.tf-card.tf-exec-card',
        { 'data-testid': 'executions', 'aria-label': 'Executions' },
        h('div.tf-card-head', h('div', h('h3', 'Executions'), h('p.muted', 'Runs by connections, newest first, with their console output. Live.')), uses),
        body,
        h('div.tf-more', more),
      );

      function drawUses() {
        const cs = usedBy(id);
        mount(
          uses,
          cs.length
            ? [h('span.muted', 'Used by'), cs.map((c) => h('a.rule-chip', { href: `#/events?webhook_id=${c.id}`, title: `Events of ${c.full_name || c.name}` }, icon('connections'), c.name))]
            : h('span.rule-chip.rule-none', 'Not used by any connection'),
        );
      }

      function draw() {
        const all = [...first, ...older.filter((o) => !first.some((f) => f.id === o.id))];
        const json = JSON.stringify(all.map((x) => x.id)) + names.loadedAt;
        more.hidden = !next;
        if (json === shown) return;
        shown = json;
        if (!all.length) {
          mount(
            body,
            h(
              'div.tf-exec-empty',
              emptyState({
                icon: 'events',
                title: 'No executions yet',
                text: usedBy(id).length
                  ? 'The next request routed through a connection that uses it runs the code and appears here.'
                  : 'Add a transform rule with this transformation to a connection: each request it routes runs the code and appears here.',
              }),
            ),
          );
          return;
        }
        mount(body, all.map(row));
      }

      function row(x) {
        const failed = !!x.error || x.log_level === 'error';
        const conn = names.connections.get(x.webhook_id);
        const box = h('div.tf-exec', { class: [opened.has(x.id) ? 'open' : null, failed ? 'failed' : null], data: { testid: 'execution', id: x.id } });
        const head = h(
          'button.tf-exec-head',
          {
            type: 'button',
            'aria-expanded': String(opened.has(x.id)),
            onclick: () => {
              const open = box.classList.toggle('open');
              head.setAttribute('aria-expanded', String(open));
              if (open) opened.add(x.id);
              else opened.delete(x.id);
            },
          },
          pill(failed ? 'Error' : titleCase(x.log_level || 'info'), failed ? 'red' : 'green'),
          h('span.tf-exec-conn', conn ? conn.name : x.webhook_id || 'No connection'),
          h('span.tf-exec-logs', x.logs.length ? plural(x.logs.length, 'line') : 'no output'),
          h('span.tf-exec-time.mono', { title: dateTime(x.created_at) }, shortTime(x.created_at)),
          icon('chevronDown', 'tf-exec-caret'),
        );
        const reqId = x.original_event_data_id;
        box.append(
          head,
          h(
            'div.tf-exec-body',
            h(
              'dl.facts',
              h('dt', 'Request'),
              h('dd', reqId ? h('a.link.mono', { href: `#/requests/${reqId}` }, reqId) : h('span.muted', '—')),
              h('dt', 'Connection'),
              h('dd', x.webhook_id ? h('a.link', { href: `#/events?webhook_id=${x.webhook_id}` }, conn ? conn.full_name || conn.name : x.webhook_id) : h('span.muted', '—')),
              h('dt', 'Ran at'),
              h('dd', dateTime(x.created_at)),
            ),
            x.error ? h('pre.tf-exec-error', { role: 'alert' }, x.error) : null,
            pane('Console', { badge: x.logs.length ? String(x.logs.length) : null }, consoleLines(x.logs)),
          ),
        );
        return box;
      }

      async function load() {
        try {
          const res = await api.get(`/transformations/${id}/executions`, { limit: 20 });
          if (stopped) return;
          first = res.models;
          if (!older.length) next = res.pagination.next || null;
          const before = names.loadedAt;
          // Names (and the rules that say who uses it) refresh every 10 s, at once for an
          // execution by a connection this page does not know yet.
          await names.refresh(first.some((x) => x.webhook_id && !names.connections.has(x.webhook_id))).catch(() => {});
          if (stopped) return;
          if (names.loadedAt !== before) drawList(); // the "used by" counts of the list
          drawUses();
          draw();
        } catch (err) {
          if (!stopped && !first.length) mount(body, errorBox(err, () => load()));
        }
      }
      async function loadOlder() {
        if (!next) return;
        more.disabled = true;
        try {
          const res = await api.get(`/transformations/${id}/executions`, { limit: 20, next });
          older = [...older, ...res.models];
          next = res.pagination.next || null;
          draw();
        } catch (err) {
          toast(err.message, 'error');
        }
        more.disabled = false;
      }
      function poll() {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          if (stopped) return;
          if (!document.hidden && el.isConnected) await load();
          poll();
        }, 2500);
      }
      drawUses();
      load();
      poll();
      return {
        el,
        stop() {
          stopped = true;
          clearTimeout(timer);
        },
      };
    }

    // ---------- routing ----------
    async function open(id) {
      const seq = ++openSeq;
      if (ed && ed.exec) ed.exec.stop();
      ed = null;
      if (!id) {
        current = null;
        layout.classList.add('tf-none');
        drawList();
        drawPlaceholder();
        document.title = 'Transformations · Pier';
        return;
      }
      layout.classList.remove('tf-none', 'tf-empty');
      if (id === 'new') {
        current = { id: null, saved: null };
        drawEditor({ name: '', code: TEMPLATE, env: {} });
        drawList();
        document.title = 'New transformation · Pier';
        return;
      }
      current = { id, saved: null };
      drawList();
      mount(work, h('div.card', spinner('Loading transformation')));
      try {
        const t = await api.get(`/transformations/${id}`);
        if (seq !== openSeq || destroyed) return;
        current.saved = snapshot(t);
        drawEditor(t);
        document.title = `${t.name} · Transformations · Pier`;
      } catch (err) {
        if (seq !== openSeq || destroyed) return;
        mount(work, h('div.card', h('a.back.tf-back', { href: '#/transformations' }, icon('chevronLeft'), 'All transformations'), errorBox(err, () => open(id))));
      }
    }

    const key = () => (current ? current.id || 'new' : null);

    async function update(c) {
      ctx = { ...ctx, ...c };
      const id = c.parts[0] || null;
      if (id === key()) return;
      if (isDirty()) {
        const back = `#/transformations/${key()}`;
        const ok = await confirmDialog({ title: 'Discard unsaved changes?', text: 'The changes to this transformation are not saved.', confirm: 'Discard', danger: true });
        if (!ok) {
          ctx.navigate(back, { replace: true });
          return;
        }
      }
      open(id);
    }

    loadList();
    loadRequests();
    open(ctx.parts[0] || null);

    return {
      update,
      unmount() {
        destroyed = true;
        if (ed && ed.exec) ed.exec.stop();
      },
    };
  },
};
