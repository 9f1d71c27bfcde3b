// Formatting of times, durations and statuses.

export function relTime(iso, now = Date.now()) {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let out;
  if (a < 5) return future ? 'in a moment' : 'just now';
  if (a < 60) out = `${a}s`;
  else if (a < 3600) out = `${Math.floor(a / 60)}m`;
  else if (a < 86400) out = `${Math.floor(a / 3600)}h`;
  else if (a < 86400 * 30) out = `${Math.floor(a / 86400)}d`;
  else return new Date(t).toLocaleDateString();
  return future ? `in ${out}` : `${out} ago`;
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function shortTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function ms(n) {
  if (n == null) return '—';
  if (n < 1000) return `${n} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(n / 60_000)}m ${Math.round((n % 60_000) / 1000)}s`;
}

export function plural(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}

/** Status → pill tone. */
export const EVENT_TONES = {
  SUCCESSFUL: 'green',
  FAILED: 'red',
  QUEUED: 'blue',
  SCHEDULED: 'violet',
  HOLD: 'amber',
  CANCELLED: 'gray',
};

export const EVENT_STATUSES = ['SUCCESSFUL', 'FAILED', 'QUEUED', 'SCHEDULED', 'HOLD', 'CANCELLED'];

export const REJECTION_CAUSES = [
  'VERIFICATION_FAILED',
  'UNSUPPORTED_HTTP_METHOD',
  'PAYLOAD_TOO_LARGE',
  'SOURCE_DISABLED',
  'NO_CONNECTION',
  'UNSUPPORTED_CONTENT_TYPE',
];

export function httpTone(code) {
  if (code == null) return 'gray';
  if (code >= 200 && code < 300) return 'green';
  if (code >= 300 && code < 400) return 'amber';
  return 'red';
}

export function titleCase(s) {
  return String(s || '')
    .toLowerCase()
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());
}

export function sinceToIso(range) {
  const spans = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
  const span = spans[range];
  return span ? new Date(Date.now() - span).toISOString() : '';
}
