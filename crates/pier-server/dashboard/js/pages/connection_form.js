// The connection form: a connection with an inline (or existing) source and destination.
// Create: POST /connections. Edit: PUT /connections/{id} (name, description, rules), and
// PUT /sources/{id}, PUT /destinations/{id} for what changed there. Secrets are never shown
// back by the API, so in edit mode verification and auth are "unchanged" unless re-entered.
import { h, mount } from '../dom.js';
import { icon } from '../icons.js';
import { api, names } from '../api.js';
import { button, confirmDialog, errorBox, field, segmented, select, spinner } from '../ui.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const DEFAULT_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

const VERIFICATIONS = {
  '': { label: 'None: accept every request', fields: [] },
  api_key: {
    label: 'API key in a header',
    fields: [
      ['header_key', 'Header name', { value: 'X-API-KEY' }],
      ['api_key', 'Expected key', { secret: true }],
    ],
  },
  basic_auth: {
    label: 'Basic auth',
    fields: [
      ['username', 'Username'],
      ['password', 'Password', { secret: true }],
    ],
  },
  hmac: {
    label: 'HMAC signature',
    fields: [
      ['webhook_secret_key', 'Signing secret', { secret: true }],
      ['header_key', 'Signature header', { value: 'X-Signature' }],
      ['algorithm', 'Algorithm', { options: ['sha256', 'sha1', 'sha512', 'md5'] }],
      ['encoding', 'Encoding', { options: ['base64', 'base64url', 'hex'] }],
    ],
  },
  // Provider presets: checked exactly as each provider signs (timestamps included).
  ...Object.fromEntries(
    [
      ['stripe', 'Stripe'],
      ['github', 'GitHub'],
      ['shopify', 'Shopify'],
      ['svix', 'Svix / Standard Webhooks'],
      ['gitlab', 'GitLab'],
      ['slack', 'Slack'],
      ['zoom', 'Zoom'],
      ['paddle', 'Paddle'],
      ['mailgun', 'Mailgun'],
      ['linear', 'Linear'],
      ['typeform', 'Typeform'],
      ['woocommerce', 'WooCommerce'],
    ].map(([k, label]) => [k, { label, fields: [['webhook_secret_key', k === 'gitlab' ? 'Secret token' : 'Signing secret', { secret: true }]] }]),
  ),
};

const AUTHS = {
  HOOKDECK_SIGNATURE: { label: 'Pier signature (x-hookdeck-signature)', fields: [] },
  BASIC_AUTH: { label: 'Basic auth', fields: [['username', 'Username'], ['password', 'Password', { secret: true }]] },
  BEARER_TOKEN: { label: 'Bearer token', fields: [['token', 'Token', { secret: true }]] },
  API_KEY: {
    label: 'API key',
    fields: [
      ['key', 'Header or parameter name', { value: 'x-api-key' }],
      ['api_key', 'Key', { secret: true }],
      ['to', 'Send in', { options: ['header', 'query'] }],
    ],
  },
  CUSTOM_SIGNATURE: { label: 'Custom HMAC signature', fields: [['key', 'Header name'], ['signing_secret', 'Signing secret', { secret: true }]] },
  STANDARD_WEBHOOKS: { label: 'Standard Webhooks', fields: [['secret', 'Secret (whsec_…)', { secret: true }]] },
  OAUTH2_CLIENT_CREDENTIALS: {
    label: 'OAuth2 client credentials',
    fields: [['auth_server', 'Token URL'], ['client_id', 'Client id'], ['client_secret', 'Client secret', { secret: true }], ['scope', 'Scope', { optional: true }]],
  },
};

const NAME_HINT = 'Letters, digits, - and _';

function input(props) {
  return h('input.input', { autocomplete: 'off', spellcheck: 'false', ...props });
}

/** A set of config inputs for one verification/auth type; returns {el, values()}. */
function configFields(spec, prefix) {
  const inputs = {};
  const el = h(
    'div.grid-2',
    spec.fields.map(([key, label, o = {}]) => {
      const ctl = o.options
        ? select(o.options, o.options[0], { name: key, 'data-testid': `${prefix}-${key}` })
        : input({ name: key, type: o.secret ? 'password' : 'text', value: o.value || '', 'data-testid': `${prefix}-${key}`, autocomplete: o.secret ? 'new-password' : 'off' });
      inputs[key] = ctl;
      return field(label, ctl, { name: `${prefix}.${key}`, optional: o.optional });
    }),
  );
  return {
    el,
    values() {
      const out = {};
      for (const [k, ctl] of Object.entries(inputs)) if (ctl.value.trim() !== '') out[k] = ctl.value.trim();
      return out;
    },
  };
}

export function connectionForm({ id, query, onDone }) {
  const editing = !!id;
  const el = h('div.form-page', spinner(editing ? 'Loading connection' : 'Loading'));
  let destroyed = false;
  (async () => {
    try {
      const [conn, sources, destinations] = await Promise.all([
        editing ? api.get(`/connections/${id}`) : null,
        api.all('/sources'),
        api.all('/destinations'),
      ]);
      if (!destroyed) build(conn, sources, destinations);
    } catch (err) {
      if (!destroyed) mount(el, backLink(), errorBox(err));
    }
  })();

  function backLink() {
    return h('a.back', { href: '#/connections' }, icon('chevronLeft'), 'Connections');
  }

  function build(conn, sources, destinations) {
    const presetSource = query && query.get('source_id');
    // ---------- source ----------
    let srcMode = editing ? 'edit' : presetSource ? 'existing' : 'new';
    const src = conn ? conn.source : null;
    const srcName = input({ name: 'source-name', placeholder: 'e.g. stripe-payments', value: src ? src.name : '', 'data-testid': 'source-name' });
    const methodBoxes = METHODS.map((m) =>
      h('label.check-chip', h('input', { type: 'checkbox', value: m, checked: (src ? src.allowed_http_methods : DEFAULT_METHODS).includes(m) }), h('span', m)),
    );
    const verOptions = Object.entries(VERIFICATIONS).map(([k, v]) => [k, v.label]);
    const currentVer = src && src.verification && src.verification.type;
    if (editing) verOptions.unshift(['=', currentVer ? `Unchanged (${currentVer})` : 'Unchanged (none)']);
    const verSelect = select(verOptions, editing ? '=' : '', { 'data-testid': 'verification-type', name: 'verification-type' });
    const verHost = h('div');
    let verFields = null;
    const drawVer = () => {
      const spec = VERIFICATIONS[verSelect.value];
      verFields = spec ? configFields(spec, 'verification') : null;
      mount(verHost, verFields && spec.fields.length ? verFields.el : null);
      refreshPreview();
    };
    verSelect.addEventListener('change', drawVer);
    const srcExisting = select(
      sources.map((s) => [s.id, s.name]),
      presetSource || (sources[0] && sources[0].id),
      { 'data-testid': 'source-existing', onchange: () => refreshPreview() },
    );
    const srcNew = h(
      'div.stack',
      field('Name', srcName, { name: 'source.name', hint: NAME_HINT }),
      h('div.field', { data: { field: 'source.allowed_http_methods' } }, h('span.field-label', 'Allowed methods'), h('div.check-row', methodBoxes), h('span.field-error')),
      field('Verification', verSelect, { name: 'source.verification', hint: 'How Pier checks that a request really comes from the sender. Failed checks are answered 401 and recorded.' }),
      verHost,
    );
    const srcBody = h('div');
    const drawSrc = () => mount(srcBody, srcMode === 'existing' ? field('Source', srcExisting, { name: 'source_id' }) : srcNew);

    // ---------- destination ----------
    let dstMode = editing ? 'edit' : 'new';
    const dst = conn ? conn.destination : null;
    const dstName = input({ name: 'destination-name', placeholder: 'e.g. orders-api', value: dst ? dst.name : '', 'data-testid': 'destination-name' });
    const dstUrl = input({ name: 'destination-url', type: 'url', placeholder: 'https://api.example.com/webhooks', value: dst ? dst.url || '' : '', 'data-testid': 'destination-url' });
    const rate = input({ name: 'rate-limit', type: 'number', min: '1', step: '1', placeholder: 'Unlimited', value: dst && dst.rate_limit ? String(dst.rate_limit) : '', 'data-testid': 'rate-limit' });
    const period = select([['second', 'per second'], ['minute', 'per minute'], ['hour', 'per hour'], ['concurrent', 'concurrent']], dst ? dst.rate_limit_period : 'second', { 'data-testid': 'rate-limit-period', 'aria-label': 'Rate limit period' });
    const authOptions = Object.entries(AUTHS).map(([k, v]) => [k, v.label]);
    const currentAuth = dst && dst.auth_method && dst.auth_method.type;
    if (editing) authOptions.unshift(['=', `Unchanged (${AUTHS[currentAuth] ? AUTHS[currentAuth].label : currentAuth})`]);
    const authSelect = select(authOptions, editing ? '=' : 'HOOKDECK_SIGNATURE', { 'data-testid': 'auth-type', name: 'auth-type' });
    const authHost = h('div');
    let authFields = null;
    const drawAuth = () => {
      const spec = AUTHS[authSelect.value];
      authFields = spec ? configFields(spec, 'auth') : null;
      mount(authHost, authFields && spec.fields.length ? authFields.el : null);
    };
    authSelect.addEventListener('change', drawAuth);
    const dstExisting = select(destinations.map((d) => [d.id, `${d.name}  ·  ${d.url || d.cli_path || ''}`]), destinations[0] && destinations[0].id, {
      'data-testid': 'destination-existing',
      onchange: () => refreshPreview(),
    });
    const dstNew = h(
      'div.stack',
      h('div.grid-2', field('Name', dstName, { name: 'destination.name', hint: NAME_HINT }), field('URL', dstUrl, { name: 'destination.url', hint: 'The request path after the source URL is appended.' })),
      h(
        'div.field',
        { data: { field: 'destination.rate_limit' } },
        h('span.field-label', 'Rate limit', h('span.optional', 'optional')),
        h('div.input-group', rate, period),
        h('span.field-hint', 'Over the limit, events wait in the queue; they never fail for it.'),
        h('span.field-error'),
      ),
      field('Authentication', authSelect, { name: 'destination.auth_method', hint: 'How deliveries prove they come from Pier.' }),
      authHost,
    );
    const dstBody = h('div');
    const drawDst = () => mount(dstBody, dstMode === 'existing' ? field('Destination', dstExisting, { name: 'destination_id' }) : dstNew);

    // ---------- connection ----------
    const name = input({ name: 'connection-name', placeholder: 'e.g. orders-to-api', value: conn ? conn.name : '', 'data-testid': 'connection-name' });
    const description = h('textarea.input', { name: 'description', rows: '2', placeholder: 'What this connection is for', value: conn && conn.description ? conn.description : '' });
    const rules = conn ? conn.rules : [];
    const retryRule = rules.find((r) => r.type === 'retry');
    const delayRule = rules.find((r) => r.type === 'delay');
    const filterRule = rules.find((r) => r.type === 'filter');
    const otherRules = rules.filter((r) => !['retry', 'delay', 'filter'].includes(r.type));

    const retryOn = h('input', { type: 'checkbox', checked: !!retryRule, 'data-testid': 'rule-retry' });
    const retryStrategy = select([['exponential', 'Exponential'], ['linear', 'Linear']], retryRule ? retryRule.strategy : 'exponential', { 'aria-label': 'Strategy' });
    const retryCount = input({ type: 'number', min: '0', max: '50', value: retryRule && retryRule.count != null ? String(retryRule.count) : '5', 'aria-label': 'Retries' });
    const retryInterval = input({ type: 'number', min: '1', value: retryRule && retryRule.interval ? String(retryRule.interval / 1000) : '30', 'aria-label': 'Interval in seconds' });
    const retryCodes = input({ placeholder: 'e.g. 500-599, 429', value: retryRule && retryRule.response_status_codes ? retryRule.response_status_codes.join(', ') : '' });
    const delayOn = h('input', { type: 'checkbox', checked: !!delayRule, 'data-testid': 'rule-delay' });
    const delaySecs = input({ type: 'number', min: '0', step: '0.1', value: delayRule ? String(delayRule.delay / 1000) : '10', 'aria-label': 'Delay in seconds' });
    const filterOn = h('input', { type: 'checkbox', checked: !!filterRule, 'data-testid': 'rule-filter' });
    const filterJson = h('textarea.input.mono', {
      rows: '4',
      spellcheck: 'false',
      value: filterRule ? JSON.stringify(Object.fromEntries(Object.entries(filterRule).filter(([k]) => k !== 'type')), null, 2) : '{\n  "body": { "type": "order.created" }\n}',
    });

    function ruleBlock(toggle, title, text, body, fieldName) {
      const blk = h(
        'div.rule-block',
        { data: { field: fieldName } },
        h('label.rule-toggle', toggle, h('span.switch'), h('span.rule-title', title), h('span.rule-text', text)),
        h('div.rule-body', body),
        h('span.field-error'),
      );
      const sync = () => blk.classList.toggle('on', toggle.checked);
      toggle.addEventListener('change', () => {
        sync();
        refreshPreview();
      });
      sync();
      return blk;
    }
    const rulesEl = h(
      'div.rules-list',
      { data: { field: 'rules' } },
      ruleBlock(filterOn, 'Filter', 'Only requests matching this JSON schema become events.', h('div.stack', filterJson, h('span.field-hint', 'Keys: body, headers, query, path. Operators: $eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist $or $and $not.')), 'rules.filter'),
      ruleBlock(delayOn, 'Delay', 'Hold each event before its first attempt.', h('div.input-group.w-sm', delaySecs, h('span.addon', 'seconds')), 'rules.delay'),
      ruleBlock(
        retryOn,
        'Retry',
        'Retry failed deliveries automatically (otherwise the project default applies).',
        h('div.grid-3', field('Strategy', retryStrategy), field('Retries', retryCount), field('Interval (s)', retryInterval), field('Only on statuses', retryCodes, { optional: true, wide: true })),
        'rules.retry',
      ),
      otherRules.length ? h('p.field-hint', `${otherRules.length} other rule(s) (${otherRules.map((r) => r.type).join(', ')}) are kept as they are.`) : null,
    );

    // ---------- preview & actions ----------
    const preview = h('div.preview');
    function refreshPreview() {
      const sName = srcMode === 'existing' ? (sources.find((s) => s.id === srcExisting.value) || {}).name : srcName.value;
      const dName = dstMode === 'existing' ? (destinations.find((d) => d.id === dstExisting.value) || {}).name : dstName.value;
      const ruleNames = [filterOn.checked && 'filter', delayOn.checked && 'delay', retryOn.checked && 'retry', ...otherRules.map((r) => r.type)].filter(Boolean);
      mount(
        preview,
        h('div.preview-node', icon('source'), h('span', sName || 'source')),
        h('div.preview-link'),
        h('div.preview-node.preview-conn', icon('connections'), h('span', name.value || 'connection'), ruleNames.length ? h('span.preview-rules', ruleNames.join(' · ')) : null),
        h('div.preview-link'),
        h('div.preview-node', icon('destination'), h('span', dName || 'destination')),
      );
    }
    for (const i of [srcName, dstName, name]) i.addEventListener('input', refreshPreview);

    const formError = h('div.form-error', { role: 'alert', hidden: true });
    const save = h('button.btn.btn-primary', { type: 'submit', 'data-testid': 'save-connection' }, icon('check'), h('span', editing ? 'Save changes' : 'Create connection'));

    const modeSwitch = (current, onchange, canExisting) =>
      editing || !canExisting
        ? null
        : segmented([{ value: 'new', label: 'New' }, { value: 'existing', label: 'Existing' }], current, onchange, { name: 'Mode' });

    const card = (n, title, sub, sw, body) =>
      h('section.card.form-card', h('div.card-head', h('span.step', String(n)), h('div', h('h3', title), h('p.muted', sub)), sw ? h('div.card-head-aside', sw) : null), body);

    const danger = editing
      ? h(
          'section.card.form-card.danger-zone',
          h('div.card-head', h('div', h('h3', 'Danger zone'), h('p.muted', 'Disabling ignores new requests on this connection; deleting removes it (its events stay).'))),
          h(
            'div.row-actions',
            button(conn.disabled_at ? 'Enable connection' : 'Disable connection', {
              icon: 'power',
              onclick: async () => {
                const action = conn.disabled_at ? 'enable' : 'disable';
                try {
                  await api.put(`/connections/${conn.id}/${action}`);
                  onDone(`Connection ${action}d`);
                } catch (err) {
                  showError(err);
                }
              },
            }),
            button('Delete connection', {
              icon: 'trash',
              variant: 'danger',
              onclick: async () => {
                const ok = await confirmDialog({ title: `Delete ${conn.name}?`, text: 'Requests to its source will no longer be routed through it. Existing events are kept.', confirm: 'Delete', danger: true });
                if (!ok) return;
                try {
                  await api.del(`/connections/${conn.id}`);
                  onDone('Connection deleted');
                } catch (err) {
                  showError(err);
                }
              },
            }),
          ),
        )
      : null;

    const form = h(
      'form.conn-form',
      { novalidate: true, 'data-testid': 'connection-form' },
      h(
        'div.form-main',
        card(1, 'Source', editing ? 'Where requests come in. Its URL does not change.' : 'Where requests come in: Pier gives it a URL.', modeSwitch(srcMode, (v) => ((srcMode = v), drawSrc(), refreshPreview()), sources.length), srcBody),
        card(2, 'Destination', 'Where Pier delivers the events.', modeSwitch(dstMode, (v) => ((dstMode = v), drawDst(), refreshPreview()), destinations.length), dstBody),
        card(3, 'Connection', 'The route between them, and the rules applied on the way.', null, h('div.stack', h('div.grid-2', field('Name', name, { name: 'name', hint: NAME_HINT }), field('Description', description, { name: 'description', optional: true })), h('div.field-label', 'Rules'), rulesEl)),
        danger,
      ),
      h(
        'aside.form-side',
        h('div.card.side-card', h('h4.section-title', 'Preview'), preview, formError, h('div.side-actions', h('a.btn.btn-secondary', { href: '#/connections' }, 'Cancel'), save)),
      ),
    );

    // Editing a field clears its error.
    form.addEventListener('input', (e) => {
      const f = e.target.closest('[data-field]');
      if (f && f.classList.contains('invalid')) {
        f.classList.remove('invalid');
        const err = f.querySelector(':scope > .field-error');
        if (err) err.textContent = '';
      }
    });

    function clearErrors() {
      formError.hidden = true;
      for (const f of form.querySelectorAll('.invalid')) f.classList.remove('invalid');
      for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
    }

    function showError(err, prefix = '') {
      const fieldName = err.field ? prefix + err.field : null;
      let target = null;
      if (fieldName) {
        // The most specific field whose name starts the error's field.
        let best = -1;
        for (const f of form.querySelectorAll('[data-field]')) {
          const n = f.dataset.field;
          const hit = fieldName === n || fieldName.startsWith(n + '.') || fieldName.startsWith(n + '[') || (n.startsWith('rules.') && fieldName.startsWith('rules'));
          if (hit && n.length > best) {
            best = n.length;
            target = f;
          }
        }
      }
      const msg = err.body && err.body.data && err.body.data.message ? err.body.data.message : err.message;
      if (target) {
        target.classList.add('invalid');
        const e = target.querySelector(':scope > .field-error');
        if (e) e.textContent = msg.charAt(0).toUpperCase() + msg.slice(1);
        target.scrollIntoView({ block: 'center', behavior: 'smooth' });
        const ctl = target.querySelector('input, select, textarea');
        if (ctl) ctl.focus({ preventScroll: true });
      }
      formError.hidden = false;
      mount(formError, icon('alert'), h('span', fieldName ? `${fieldName}: ${msg}` : msg));
    }

    function buildRules() {
      const out = [];
      if (filterOn.checked) {
        let v;
        try {
          v = JSON.parse(filterJson.value || '{}');
        } catch (e) {
          throw Object.assign(new Error('The filter is not valid JSON: ' + e.message), { field: 'rules.filter' });
        }
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw Object.assign(new Error('The filter must be an object like {"body": {…}}'), { field: 'rules.filter' });
        out.push({ type: 'filter', ...v });
      }
      if (delayOn.checked) out.push({ type: 'delay', delay: Math.round(Number(delaySecs.value) * 1000) });
      if (retryOn.checked) {
        const r = { type: 'retry', strategy: retryStrategy.value, count: Number(retryCount.value), interval: Math.round(Number(retryInterval.value) * 1000) };
        const codes = retryCodes.value.split(',').map((s) => s.trim()).filter(Boolean);
        if (codes.length) r.response_status_codes = codes;
        out.push(r);
      }
      return [...out, ...otherRules];
    }

    function sourceInput() {
      const s = { name: srcName.value.trim(), allowed_http_methods: methodBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value) };
      if (verSelect.value !== '=') s.verification = verSelect.value ? { type: verSelect.value, configs: verFields.values() } : null;
      return s;
    }

    function destinationInput() {
      const d = { name: dstName.value.trim(), url: dstUrl.value.trim() };
      // A CLI destination has no URL: leave it without one unless one was typed.
      if (!d.url && dst && !dst.url) delete d.url;
      const r = rate.value.trim();
      d.rate_limit = r ? Number(r) : null;
      d.rate_limit_period = period.value;
      if (authSelect.value !== '=') d.auth_method = { type: authSelect.value, config: authFields ? authFields.values() : {} };
      return d;
    }

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors();
      save.disabled = true;
      save.classList.add('busy');
      let stage = '';
      try {
        const rulesOut = buildRules();
        if (!editing) {
          const body = { name: name.value.trim(), rules: rulesOut };
          if (description.value.trim()) body.description = description.value.trim();
          if (srcMode === 'existing') body.source_id = srcExisting.value;
          else body.source = sourceInput();
          if (dstMode === 'existing') body.destination_id = dstExisting.value;
          else body.destination = destinationInput();
          const created = await api.post('/connections', body);
          names.loadedAt = 0;
          onDone(`Connection ${created.full_name} created`);
        } else {
          stage = 'source.';
          await api.put(`/sources/${conn.source.id}`, sourceInput());
          stage = 'destination.';
          await api.put(`/destinations/${conn.destination.id}`, destinationInput());
          stage = '';
          await api.put(`/connections/${conn.id}`, { name: name.value.trim(), description: description.value.trim() || null, rules: rulesOut });
          names.loadedAt = 0;
          onDone('Connection saved');
        }
      } catch (err) {
        if (err.status === 401) return;
        showError(err, err.status ? stage : '');
      } finally {
        save.disabled = false;
        save.classList.remove('busy');
      }
    });

    drawSrc();
    drawDst();
    drawVer();
    drawAuth();
    refreshPreview();
    mount(
      el,
      backLink(),
      h('div.page-head', h('div', h('h1', editing ? `Edit ${conn.name}` : 'New connection'), h('p.subtitle', editing ? conn.full_name : 'A source, a destination, and the rules between them.'))),
      form,
    );
    if (!editing) (srcMode === 'new' ? srcName : name).focus();
  }

  return {
    el,
    destroy() {
      destroyed = true;
    },
  };
}
