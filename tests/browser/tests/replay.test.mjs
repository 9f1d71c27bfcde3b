// Replaying events in real headless Chromium against a real `pier serve` (started by run.sh).
// One story, in order: sign in; a destination that fails makes failed events; JSON search on the
// body narrows Events and Requests; "Retry all" shows the plan, runs the bulk retry with its
// progress, and the matching events get a BULK_RETRY attempt; bookmark an event from its panel,
// trigger the bookmark from the Bookmarks page and see the new delivery; screenshots.
import http from 'node:http';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PIER_URL, API_KEY, launch, apiCall, sendWithCurl, eventually, screenshots } from '../lib/harness.mjs';

const T = 10_000; // every wait in the page has this timeout
const suffix = Math.random().toString(36).slice(2, 8);
let browser, page, dest, conn;
let failing = true;
const requested = [];
const pageErrors = [];

/** A destination that answers 500 while `failing`, then 200; records what it received. */
function startDestination() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, body: Buffer.concat(chunks).toString(), trigger: req.headers['x-hookdeck-attempt-trigger'] });
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: !failing }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}`, received, close: () => new Promise((r) => server.close(() => r())) }),
    );
  });
}

before(async () => {
  dest = await startDestination();
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(T);
  page.setDefaultNavigationTimeout(15_000);
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  if (browser) await browser.close();
  if (dest) await dest.close();
});

const rows = (table) => page.locator(`[data-testid="${table}"] .row`);
const row = (table, id) => page.locator(`[data-testid="${table}"] .row[data-id="${id}"]`);
const panel = () => page.getByTestId('detail-panel');
async function visit(hash) {
  await page.goto('about:blank');
  await page.goto(`${PIER_URL}/${hash}`);
}

test('sign in; failed events from a failing destination', { timeout: 40_000 }, async () => {
  await page.goto(`${PIER_URL}/`);
  await page.getByTestId('api-key').fill(API_KEY);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('nav-events').waitFor({ timeout: T });
  conn = await apiCall('POST', '/connections', {
    name: `replay-${suffix}`,
    source: { name: `replay-${suffix}` },
    destination: { name: `replay-dst-${suffix}`, url: `${dest.url}/hooks` },
    rules: [{ type: 'retry', strategy: 'linear', count: 0, interval: 600_000 }],
  });
  for (let i = 0; i < 5; i++) {
    const kind = i < 3 ? 'refund' : 'order';
    const ack = await sendWithCurl(conn.source.url, { kind, n: i, note: `replay-${suffix}` });
    assert.equal(ack.status, 'SUCCESS');
  }
  await eventually(async () => (await apiCall('GET', `/events?webhook_id=${conn.id}&status=FAILED`)).models.length === 5, {
    timeout: 20_000,
    what: 'five failed events',
  });
});

test('JSON search on the body narrows Events and Requests', { timeout: 40_000 }, async () => {
  await visit(`#/events?webhook_id=${conn.id}`);
  await eventually(async () => (await rows('events-table').count()) === 5, { timeout: T, what: 'the five events' });
  const body = page.getByTestId('filter-body');
  await body.fill('{"kind": "refund"');
  await body.press('Enter');
  assert.equal(await body.getAttribute('aria-invalid'), 'true', 'invalid JSON is flagged, not sent');
  await body.fill('{"kind": "refund"}');
  await body.press('Enter');
  await eventually(async () => (await rows('events-table').count()) === 3, { timeout: T, what: 'the three refunds' });
  assert.match(page.url(), /body=/, 'the filter is in the address');
  await screenshots(page, '60-events-json-search');

  await visit(`#/requests`);
  await page.getByTestId('filter-body').fill(JSON.stringify({ kind: 'order', note: `replay-${suffix}` }));
  await page.getByTestId('filter-body').press('Enter');
  await eventually(async () => (await rows('requests-table').count()) === 2, { timeout: T, what: 'the two orders' });
});

test('retry all matching: plan, progress, BULK_RETRY attempts', { timeout: 60_000 }, async () => {
  failing = false;
  const before = dest.received.length;
  await visit(`#/events?webhook_id=${conn.id}&status=FAILED&body=${encodeURIComponent('{"kind":"refund"}')}`);
  await eventually(async () => (await rows('events-table').count()) === 3, { timeout: T, what: 'the three failed refunds' });
  await page.getByTestId('bulk-retry').click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor({ timeout: T });
  assert.match(await dialog.textContent(), /Retry 3 events/, 'the plan counts the matching events');
  await screenshots(page, '61-bulk-retry-plan');
  await dialog.getByTestId('confirm').click();
  const banner = page.getByTestId('bulk-banner');
  await banner.waitFor({ timeout: T });
  await eventually(async () => (await banner.getAttribute('data-state')) === 'done', { timeout: 20_000, what: 'the bulk retry to finish' });
  assert.match(await banner.textContent(), /3 events retried/);
  assert.equal(await banner.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
  await screenshots(page, '62-bulk-retry-done');
  await eventually(() => dest.received.length >= before + 3, { timeout: T, what: 'three more deliveries' });
  const retried = dest.received.slice(before);
  assert.ok(retried.every((r) => r.trigger === 'BULK_RETRY' && JSON.parse(r.body).kind === 'refund'), JSON.stringify(retried));
  // The list follows: the retried events are no longer failed, the two orders still are.
  await eventually(async () => (await rows('events-table').count()) === 0, { timeout: T, what: 'no failed refund left' });
  const left = await apiCall('GET', `/events?webhook_id=${conn.id}&status=FAILED`);
  assert.equal(left.models.length, 2);
});

test('retry all matching requests from Requests', { timeout: 40_000 }, async () => {
  await visit(`#/requests?body=${encodeURIComponent(JSON.stringify({ kind: 'order', note: `replay-${suffix}` }))}`);
  await eventually(async () => (await rows('requests-table').count()) === 2, { timeout: T, what: 'the two orders' });
  await page.getByTestId('bulk-retry').click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor({ timeout: T });
  assert.match(await dialog.textContent(), /Retry 2 requests/);
  await dialog.getByTestId('confirm').click();
  const banner = page.getByTestId('bulk-banner');
  await eventually(async () => (await banner.getAttribute('data-state')) === 'done', { timeout: 20_000, what: 'the request retry to finish' });
  assert.match(await banner.textContent(), /2 requests retried/);
  // Their events already exist: routing again keeps them (one event each, nothing new to deliver).
  const ids = await page.locator('[data-testid="requests-table"] .row').evaluateAll((els) => els.map((e) => e.dataset.id));
  for (const id of ids) {
    const evs = await apiCall('GET', `/requests/${id}/events`);
    assert.equal(evs.models.length, 1, `one event for ${id}`);
  }
  assert.equal(ids.length, 2);
});

test('bookmark an event, then trigger it from Bookmarks', { timeout: 60_000 }, async () => {
  const evt = (await apiCall('GET', `/events?webhook_id=${conn.id}&status=SUCCESSFUL&limit=1`)).models[0];
  await visit(`#/events/${evt.id}`);
  await panel().getByTestId('event-bookmark').click();
  const dialog = page.getByTestId('bookmark-dialog');
  await dialog.waitFor({ timeout: T });
  await page.getByTestId('bookmark-dialog-label').fill('A refund to replay');
  await page.getByTestId('bookmark-dialog-name').fill('bad name!');
  await page.getByTestId('bookmark-dialog-submit').click();
  await dialog.locator('.dialog-error').waitFor({ state: 'visible', timeout: T });
  assert.match(await dialog.locator('.dialog-error').textContent(), /name/i, 'the refusal is shown in the dialog');
  await page.getByTestId('bookmark-dialog-name').fill(`refund-${suffix}`);
  await page.getByTestId('bookmark-dialog-submit').click();
  await dialog.waitFor({ state: 'detached', timeout: T });
  const saved = await eventually(async () => (await apiCall('GET', `/bookmarks?webhook_id=${conn.id}`)).models[0], { timeout: T, what: 'the bookmark' });
  assert.equal(saved.label, 'A refund to replay');
  assert.equal(saved.event_data_id, evt.request_id);

  await page.getByTestId('nav-bookmarks').click();
  await row('bookmarks-table', saved.id).waitFor({ timeout: T });
  await screenshots(page, '63-bookmarks');
  await row('bookmarks-table', saved.id).click();
  await panel().getByTestId('bookmark-trigger').waitFor({ timeout: T });
  await panel().locator('[data-testid="body-viewer"]').waitFor({ timeout: T });
  const before = dest.received.length;
  await panel().getByTestId('bookmark-trigger').click();
  await panel().getByTestId('bookmark-triggered').waitFor({ timeout: T });
  await eventually(() => dest.received.length > before, { timeout: T, what: 'the replayed delivery' });
  assert.equal(JSON.parse(dest.received.at(-1).body).kind, 'refund');
  await eventually(async () => !/Never/.test(await row('bookmarks-table', saved.id).textContent()), { timeout: T, what: 'last triggered in the list' });
  await screenshots(page, '64-bookmark-detail');

  // Delete it from the panel.
  await panel().getByTestId('bookmark-delete').click();
  await page.locator('dialog[open]').getByTestId('confirm').click();
  await eventually(async () => (await apiCall('GET', `/bookmarks?webhook_id=${conn.id}`)).models.length === 0, { timeout: T, what: 'the bookmark deleted' });
});

test('no request from the page leaves the machine, and no script error', () => {
  const outside = requested.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  });
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
