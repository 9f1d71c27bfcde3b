// The dashboard in real headless Chromium against a real `pier serve` (started by run.sh).
// One story, in order: a wrong key is refused; sign in; create a connection through the forms;
// a request sent with curl appears live in Requests and Events; open the event and see its
// attempt; retry it and see the new attempt; pause/unpause from the connections picture;
// screenshots of every page; sign out; and no request from the page ever left the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PIER_URL, API_KEY, launch, startReceiver, apiCall, sendWithCurl, eventually, screenshots } from '../lib/harness.mjs';

const T = 10_000; // every wait in the page has this timeout
let browser, page, receiver;
let sourceUrl, connection, eventId;
const requested = [];
const pageErrors = [];

before(async () => {
  receiver = await startReceiver();
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
  if (receiver) await receiver.close();
});

const row = (table, id) => page.locator(`[data-testid="${table}"] .row[data-id="${id}"]`);
const panel = () => page.getByTestId('detail-panel');
const attempts = () => panel().locator('[data-testid="attempt"]');
const card = (name) => page.locator(`[data-testid="connection-card"][data-name="${name}"]`);
/** Open a dashboard route in a fresh document (a hash change alone would not reload it). */
async function visit(hash) {
  await page.goto('about:blank');
  await page.goto(`${PIER_URL}/${hash}`);
}

test('the dashboard is served at / with its assets embedded', { timeout: 20_000 }, async () => {
  const res = await fetch(`${PIER_URL}/`, { signal: AbortSignal.timeout(T) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(res.headers.get('content-security-policy'), /connect-src 'self'/);
  const html = await res.text();
  assert.match(html, /\/dashboard\/js\/app\.js/);
  const js = await fetch(`${PIER_URL}/dashboard/js/app.js`, { signal: AbortSignal.timeout(T) });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
});

test('a wrong key is refused', { timeout: 30_000 }, async () => {
  await page.goto(`${PIER_URL}/`);
  await page.getByTestId('api-key').waitFor({ timeout: T });
  await screenshots(page, '01-signin');
  await page.getByTestId('api-key').fill('not-the-right-key');
  await page.getByTestId('signin-submit').click();
  const error = page.getByTestId('signin-error');
  await error.waitFor({ state: 'visible', timeout: T });
  assert.match(await error.textContent(), /refused/i);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pier.apiKey')), null);
  assert.equal(await page.getByTestId('nav-connections').count(), 0, 'no navigation without a valid key');
  await screenshots(page, '01-signin-wrong-key');
});

test('sign in with the key', { timeout: 30_000 }, async () => {
  await page.getByTestId('api-key').fill(API_KEY);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('nav-connections').waitFor({ timeout: T });
  await page.waitForURL(/#\/connections$/, { timeout: T });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pier.apiKey')), API_KEY);
  await page.getByText('Create your first connection').waitFor({ timeout: T });
  await screenshots(page, '02-connections-empty');
});

test('create a connection through the forms', { timeout: 45_000 }, async () => {
  await page.getByTestId('new-connection').first().click();
  await page.getByTestId('connection-form').waitFor({ timeout: T });
  await page.getByTestId('source-name').fill('shop');
  await page.getByTestId('verification-type').selectOption('api_key');
  await page.getByTestId('verification-header_key').fill('X-API-KEY');
  await page.getByTestId('verification-api_key').fill('client-secret-1');
  await page.getByTestId('destination-name').fill('orders-api');
  await page.getByTestId('destination-url').fill('not a url');
  await page.getByTestId('rate-limit').fill('20');
  await page.getByTestId('rate-limit-period').selectOption('second');
  await page.getByTestId('auth-type').selectOption('BEARER_TOKEN');
  await page.getByTestId('auth-token').fill('dest-token');
  await page.getByTestId('connection-name').fill('shop-orders');
  await page.locator('.rule-block', { hasText: 'Retry' }).locator('.switch').click();
  assert.equal(await page.getByTestId('rule-retry').isChecked(), true);

  // The API refuses the URL: the form shows it on the field.
  await page.getByTestId('save-connection').click();
  const urlField = page.locator('.invalid[data-field="destination.url"]');
  await urlField.waitFor({ timeout: T });
  assert.match(await urlField.textContent(), /http/i);

  await page.getByTestId('destination-url').fill(`${receiver.url}/hooks`);
  assert.equal(await urlField.count(), 0, 'editing the field clears its error');
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshots(page, '03-connection-form');
  await page.getByTestId('save-connection').click();
  await page.waitForURL(/#\/connections$/, { timeout: T });
  await card('shop-orders').waitFor({ timeout: T });

  const list = await apiCall('GET', '/connections?name=shop-orders');
  assert.equal(list.models.length, 1);
  connection = list.models[0];
  assert.equal(connection.source.name, 'shop');
  assert.equal(connection.source.verification.type, 'api_key');
  assert.equal(connection.destination.url, `${receiver.url}/hooks`);
  assert.equal(connection.destination.rate_limit, 20);
  assert.equal(connection.destination.auth_method.type, 'BEARER_TOKEN');
  assert.ok(connection.rules.some((r) => r.type === 'retry'));
  sourceUrl = await page.locator('[data-testid="source-card"][data-name="shop"] [data-testid="source-url"]').getAttribute('title');
  assert.equal(sourceUrl, connection.source.url, 'the picture shows the source URL');
});

test('a request sent with curl appears live in Requests (no reload)', { timeout: 30_000 }, async () => {
  await page.getByTestId('nav-requests').click();
  await page.getByTestId('requests-table').waitFor({ timeout: T });
  await page.getByText('No requests yet').waitFor({ timeout: T });
  await page.evaluate(() => (window.__sameDocument = true));
  const ack = await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.created', id: 'ord_1', total: 42.5, items: [{ sku: 'A1', qty: 2 }] }, { 'X-API-KEY': 'client-secret-1' });
  assert.equal(ack.status, 'SUCCESS');
  await row('requests-table', ack.request_id).waitFor({ timeout: T });
  assert.match(await row('requests-table', ack.request_id).textContent(), /Accepted/);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
});

test('events appear live in Events (no reload)', { timeout: 40_000 }, async () => {
  await page.getByTestId('nav-events').click();
  await page.getByTestId('events-table').waitFor({ timeout: T });
  await page.locator('[data-testid="events-table"] .row').first().waitFor({ timeout: T });
  const ack = await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.paid', id: 'ord_2' }, { 'X-API-KEY': 'client-secret-1' });
  const evt = await eventually(async () => (await apiCall('GET', `/requests/${ack.request_id}/events`)).models[0], { timeout: T, what: 'the event of the request' });
  eventId = evt.id;
  await row('events-table', eventId).waitFor({ timeout: T });
  await eventually(async () => /Successful/.test(await row('events-table', eventId).textContent()), { timeout: T, what: 'the row to show Successful' });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  await eventually(() => receiver.received.some((r) => r.body.includes('ord_2')), { timeout: T, what: 'the delivery' });
});

test('search finds events by their body', { timeout: 30_000 }, async () => {
  const search = page.getByTestId('filter-search');
  await search.fill('ord_2');
  await search.press('Enter');
  await row('events-table', eventId).waitFor({ timeout: T });
  await eventually(async () => (await page.locator('[data-testid="events-table"] .row').count()) === 1, { timeout: T, what: 'only the matching event' });
  await search.fill('no-such-thing-anywhere');
  await search.press('Enter');
  await eventually(async () => (await page.locator('[data-testid="events-table"] .row').count()) === 0, { timeout: T, what: 'no rows' });
  await search.fill('');
  await search.press('Enter');
  await row('events-table', eventId).waitFor({ timeout: T });
});

test('open the event and see its attempt', { timeout: 30_000 }, async () => {
  await row('events-table', eventId).click();
  await panel().waitFor({ state: 'visible', timeout: T });
  await attempts().first().waitFor({ timeout: T });
  assert.equal(await attempts().count(), 1);
  const text = await attempts().first().textContent();
  assert.match(text, /#1/);
  assert.match(text, /200/);
  assert.match(text, /Initial/);
  await page.waitForURL(new RegExp(`#/events/${eventId}`), { timeout: T });
  await screenshots(page, '05-event-detail');
});

test('retry it and see the new attempt', { timeout: 30_000 }, async () => {
  const deliveries = receiver.received.length;
  await panel().getByTestId('event-retry').click();
  await eventually(async () => (await attempts().count()) === 2, { timeout: T, what: 'a second attempt in the timeline' });
  const newest = await attempts().first().textContent();
  assert.match(newest, /#2/);
  assert.match(newest, /Manual/);
  const api = await apiCall('GET', `/attempts?event_id=${eventId}`);
  assert.equal(api.models.length, 2);
  assert.ok(api.models.some((a) => a.trigger === 'MANUAL'));
  await eventually(() => receiver.received.length > deliveries, { timeout: T, what: 'the retried delivery' });
});

test('pause and unpause from the connections picture', { timeout: 60_000 }, async () => {
  await page.getByTestId('nav-connections').click();
  await card('shop-orders').waitFor({ timeout: T });
  await card('shop-orders').getByTestId('pause').click();
  await card('shop-orders').getByText('Paused').waitFor({ timeout: T });
  await eventually(async () => (await apiCall('GET', `/connections/${connection.id}`)).paused_at, { timeout: T, what: 'paused_at' });

  // While paused, a new event is held.
  const ack = await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.held', id: 'ord_3' }, { 'X-API-KEY': 'client-secret-1' });
  const held = await eventually(async () => (await apiCall('GET', `/requests/${ack.request_id}/events`)).models[0], { timeout: T, what: 'the held event' });
  assert.equal(held.status, 'HOLD');
  await visit('#/connections');
  await eventually(async () => /1 event held/.test(await card('shop-orders').textContent()), { timeout: T, what: 'the held count on the card' });
  await screenshots(page, '06-connections-paused');

  await card('shop-orders').getByTestId('unpause').click();
  await card('shop-orders').getByText('Active').waitFor({ timeout: T });
  await eventually(async () => (await apiCall('GET', `/connections/${connection.id}`)).paused_at === null, { timeout: T, what: 'paused_at cleared' });
  await eventually(async () => (await apiCall('GET', `/events/${held.id}`)).status === 'SUCCESSFUL', { timeout: T, what: 'the held event delivered after unpause' });
});

test('screenshots of every page', { timeout: 90_000 }, async () => {
  // A little more data: a rejected request, and a second connection on the same source.
  await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.created' }, { 'X-API-KEY': 'wrong' }).catch(() => {});
  await apiCall('POST', '/connections', { name: 'shop-audit', source: { name: 'shop' }, destination: { name: 'audit-log', url: `${receiver.url}/audit` }, rules: [{ type: 'delay', delay: 1000 }] });

  await visit(`#/connections`);
  await card('shop-audit').waitFor({ timeout: T });
  await screenshots(page, '10-connections');

  await page.getByTestId('menu').waitFor({ state: 'attached', timeout: T });
  await screenshots(page, '11-navigation', {
    prepare: async (s) => {
      if (s.width < 800) await page.getByTestId('menu').click();
    },
  });
  await visit(`#/connections/new`);
  await page.getByTestId('connection-form').waitFor({ timeout: T });
  await screenshots(page, '12-connection-new');

  await visit(`#/connections/${connection.id}/edit`);
  await page.getByTestId('connection-form').waitFor({ timeout: T });
  await screenshots(page, '13-connection-edit');

  await visit(`#/requests`);
  await page.locator('[data-testid="requests-table"] .row').first().waitFor({ timeout: T });
  await screenshots(page, '20-requests');
  await page.locator('[data-testid="requests-table"] .row').first().click();
  await panel().waitFor({ state: 'visible', timeout: T });
  await panel().locator('[data-testid="body-viewer"]').waitFor({ timeout: T });
  await screenshots(page, '21-request-detail');

  await visit(`#/events`);
  await page.locator('[data-testid="events-table"] .row').first().waitFor({ timeout: T });
  await screenshots(page, '30-events');
  await visit(`#/events/${eventId}`);
  await attempts().first().waitFor({ timeout: T });
  await screenshots(page, '31-event-detail');

  await visit(`#/transformations`);
  await page.getByTestId('transformations-list').waitFor({ timeout: T });
  await screenshots(page, '40-transformations');
  await visit(`#/metrics`);
  await page.getByTestId('metrics-page').waitFor({ timeout: T });
  await screenshots(page, '41-metrics');
});

test('sign out clears the key', { timeout: 30_000 }, async () => {
  await visit(`#/connections`);
  await page.getByTestId('signout').click();
  await page.getByTestId('api-key').waitFor({ timeout: T });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pier.apiKey')), null);
  await visit(`#/events`);
  await page.getByTestId('api-key').waitFor({ timeout: T });
  assert.equal(await page.getByTestId('nav-events').count(), 0);
});

test('no request from the page leaves the machine, and no script error', () => {
  assert.ok(requested.length > 20, `the page made requests (${requested.length})`);
  const outside = requested.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  });
  assert.deepEqual(outside, [], 'every request goes to 127.0.0.1');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
});
