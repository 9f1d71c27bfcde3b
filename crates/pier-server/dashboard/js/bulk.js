// "Retry all": a bulk retry of everything a list's filters match — the plan in a confirmation
// dialog, then a progress banner (bar, batches, Cancel) polled until the operation ends. An
// operation already running when the page opens is picked up by `watch()`.
import { h, mount } from './dom.js';
import { icon } from './icons.js';
import { api } from './api.js';
import { button, confirmDialog, progressBar, toast } from './ui.js';
import { plural, sinceToIso } from './format.js';

/**
 * A list page's filters as a bulk query: the `keys` as they are, plus the full-text search (3+
 * characters), the time range as `created_at.gte` and the body/headers JSON filters.
 */
export function bulkQueryOf(filters, keys) {
  const q = {};
  for (const k of keys) if (filters[k]) q[k] = filters[k];
  if (filters.search_term && filters.search_term.length >= 3) q.search_term = filters.search_term;
  const since = sinceToIso(filters.range);
  if (since) q.created_at = { gte: since };
  for (const k of ['body', 'headers']) if (filters[k]) q[k] = JSON.parse(filters[k]);
  return q;
}

/**
 * `path`: the bulk endpoint (`/bulk/events/retry`); `noun`: what it retries ("event");
 * `query()`: the filters as the bulk query; `filtered()`: whether any filter is set;
 * `skipped`: why objects may be skipped; `onDone()`: called when an operation ends.
 */
export function bulkRetry({ path, noun, query, filtered, skipped, onDone }) {
  const host = h('div', { 'data-testid': 'bulk-host' });
  let timer = null;
  let destroyed = false;

  function show(op) {
    clearTimeout(timer);
    if (destroyed) return;
    const bar = progressBar(op.progress, { label: 'Bulk retry progress' });
    const done = !op.in_progress;
    const retried = op.completed_count || 0;
    const left = op.failed_count || 0;
    const title = done
      ? op.cancelled_at
        ? `Bulk retry cancelled after ${plural(retried, noun)}`
        : `Bulk retry done: ${plural(retried, noun)} retried`
      : `Retrying ${plural(op.estimated_count || 0, noun)}…`;
    const detail = [
      `${retried} retried`,
      left ? `${left} skipped (${skipped})` : null,
      `batch ${op.processed_batch || 0} of ${Math.max(op.estimated_batch || 0, op.processed_batch || 0)}`,
    ]
      .filter(Boolean)
      .join(' · ');
    const action = done
      ? button('Dismiss', { size: 'sm', variant: 'ghost', testid: 'bulk-dismiss', onclick: () => host.replaceChildren() })
      : button('Cancel', {
          size: 'sm',
          testid: 'bulk-cancel',
          onclick: async () => {
            try {
              show(await api.post(`${path}/${op.id}/cancel`));
            } catch (err) {
              toast(err.message, 'error');
            }
          },
        });
    if (done) bar.set(op.cancelled_at ? op.progress : 1);
    mount(
      host,
      h(
        'div.bulk-banner',
        { 'data-testid': 'bulk-banner', 'data-state': done ? 'done' : 'running' },
        icon('layers'),
        h('div.bulk-text', h('span.bulk-title', title), bar.el, h('span.muted', detail)),
        action,
      ),
    );
    if (!done) {
      timer = setTimeout(async () => {
        try {
          show(await api.get(`${path}/${op.id}`));
        } catch {
          show(op);
        }
      }, 1000);
    } else {
      onDone();
    }
  }

  async function watch() {
    try {
      const running = await api.get(path, { in_progress: true, limit: 1 });
      if (running.models.length && !host.childElementCount) show(running.models[0]);
    } catch {}
  }

  const btn = button('Retry all', {
    icon: 'retry',
    size: 'sm',
    testid: 'bulk-retry',
    title: `Retry every ${noun} matching the filters`,
    onclick: async () => {
      btn.disabled = true;
      try {
        const q = query();
        const plan = await api.get(`${path}/plan`, { query: JSON.stringify(q) });
        const n = plan.estimated_count || 0;
        if (!n) {
          toast(`No ${noun} matches these filters`, 'default');
          return;
        }
        const scope = filtered() ? 'matching these filters' : 'in this project (no filter is set)';
        const ok = await confirmDialog({
          title: `Retry ${plural(n, noun)}?`,
          text: `${plural(n, noun)} ${scope} will be retried, in ${plural(plan.estimated_batch, 'batch', 'batches')} of 100. Those ${skipped} are skipped.`,
          confirm: `Retry ${plural(n, noun)}`,
        });
        if (!ok) return;
        show(await api.post(path, { query: q }));
      } catch (err) {
        toast(err.message, 'error');
      } finally {
        btn.disabled = false;
      }
    },
  });

  return {
    button: btn,
    host,
    watch,
    destroy() {
      destroyed = true;
      clearTimeout(timer);
    },
  };
}
