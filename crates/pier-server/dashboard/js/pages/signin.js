// Sign-in: asks for the project's API key, checks it against the API, keeps it in
// sessionStorage (gone when the tab closes; "Sign out" clears it at once).
import { h, mount } from '../dom.js';
import { icon, logo } from '../icons.js';
import { api, session } from '../api.js';

export default {
  id: 'signin',
  title: 'Sign in',
  mount(root, { notice, onSignedIn }) {
    document.title = 'Sign in · Pier';
    const input = h('input.input.input-lg.mono', {
      type: 'password',
      id: 'api-key',
      name: 'api-key',
      autocomplete: 'current-password',
      placeholder: 'Paste your API key',
      spellcheck: 'false',
      required: true,
      'data-testid': 'api-key',
    });
    const reveal = h(
      'button.btn.btn-ghost.btn-sm.reveal',
      {
        type: 'button',
        'aria-label': 'Show key',
        onclick: () => {
          input.type = input.type === 'password' ? 'text' : 'password';
          reveal.setAttribute('aria-label', input.type === 'password' ? 'Show key' : 'Hide key');
        },
      },
      h('span', 'Show'),
    );
    const error = h('div.signin-error', { role: 'alert', 'data-testid': 'signin-error', hidden: true });
    const submit = h('button.btn.btn-primary.btn-lg.btn-block', { type: 'submit', 'data-testid': 'signin-submit' }, h('span', 'Sign in'), icon('arrowRight'));
    const form = h(
      'form.signin-form',
      { novalidate: true },
      h('label.field-label', { for: 'api-key' }, 'API key'),
      h('div.input-wrap', icon('key'), input, reveal),
      error,
      submit,
    );
    function showError(msg) {
      error.hidden = false;
      mount(error, icon('alert'), h('span', msg));
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.select();
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return showError('Enter the API key of your project.');
      submit.disabled = true;
      submit.classList.add('busy');
      try {
        await api.check(key);
        session.set(key);
        onSignedIn();
      } catch (err) {
        if (err.status === 401) showError('This API key was refused. Check it and try again.');
        else if (err.status === 429) showError('Too many attempts. Wait a moment and try again.');
        else showError(`Pier could not be reached (${err.message}).`);
      } finally {
        submit.disabled = false;
        submit.classList.remove('busy');
      }
    });
    mount(
      root,
      h(
        'div.signin',
        h(
          'div.signin-card',
          h('div.signin-brand', logo(), h('span', 'Pier')),
          h('h1', 'Sign in to your gateway'),
          h('p.muted', 'Use the API key of a project. The dashboard sees exactly what that key may see.'),
          notice ? h('div.notice', icon('alert'), h('span', notice)) : null,
          form,
          h(
            'div.signin-help',
            h('p', 'The key is printed once when ', h('code', 'pier serve'), ' first starts.'),
            h('p', 'Lost it? ', h('code', 'pier projects rotate-key <project id>'), ' makes a new one.'),
          ),
        ),
        h('p.signin-foot', 'The key stays in this tab only and is cleared when you sign out.'),
      ),
    );
    input.focus();
    return {};
  },
};
