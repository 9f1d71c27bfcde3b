// The Metrics page in real headless Chromium against a real `pier serve` (started by run.sh).
// One story, in order: sign in and open Metrics; connections made through the API receive
// requests (a receiver answering 500 so the error rate is not zero, a delayed connection so a
// queue builds, one request refused); the tiles show the API's counts and the charts draw
// (SVG paths, points, bars); the tooltip follows the pointer; the window switches (15 min,
// 6 h, 24 h); a new request shows up live; dark mode; the empty state; screenshots at both sizes.
import http from 'node:http';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PIER_URL, API_KEY, ARTIFACTS, launch, apiCall, sendWithCurl, eventually, screenshots } from '../lib/harness.mjs';

const T = 10_000; // every wait in the page has this timeout
const suffix = Math.random().toString(36).slice(2, 8);
let browser, page, receiver;
let sourceUrl, delayed;
const sent = { accepted: 0, rejected: 0 };
const requested = [];
const pageErrors = [];

/** A destination: `/ok/…` answers 200 after a few ms, `/fail/…` answers 500. */
function startDestination() {
  const received = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.url);
      const fail = req.url.startsWith('/fail');
      setTimeout(() => {
        res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(fail ? { error: 'boom' } : { ok: true }));
      }, fail ? 2 : 5 + Math.floor(Math.random() * 40));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}`, received, close: () => new Promise((r) => server.close(() => r())) }),
    );
  });
}

before(async () => {
  receiver = await startDestination();
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

const tile = (name) => page.getByTestId(`tile-${name}`);
const chart = (name) => page.getByTestId(`chart-${name}`);
const tileValue = async (name) => Number(await tile(name).getAttribute('data-value'));
async function visit(hash) {
  await page.goto('about:blank');
  await page.goto(`${PIER_URL}/${hash}`);
}
const summary = (minutes = 60) => apiCall('GET', `/metrics/summary?minutes=${minutes}`);

test('sign in and open Metrics', { timeout: 30_000 }, async () => {
  await page.goto(`${PIER_URL}/`);
  await page.getByTestId('api-key').fill(API_KEY);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('nav-metrics').click();
  await page.waitForURL(/#\/metrics$/, { timeout: T });
  await page.getByTestId('metrics-page').waitFor({ timeout: T });
  assert.equal(await page.getByTestId('coming-soon').count(), 0, 'no more "coming soon"');
  assert.equal(await page.getByTestId('nav-metrics').locator('.nav-soon').count(), 0, 'no "Soon" badge in the navigation');
  assert.equal(await page.getByTestId('metrics-page').getAttribute('data-window'), '1h', 'one hour by default');
});

test('traffic through the API: deliveries, a failing destination, a delayed one, a refused request', { timeout: 60_000 }, async () => {
  const source = { name: `metrics-${suffix}`, verification: { type: 'api_key', configs: { header_key: 'X-API-KEY', api_key: 'metrics-secret' } } };
  const ok = await apiCall('POST', '/connections', { name: `metrics-ok-${suffix}`, source, destination: { name: `metrics-orders-${suffix}`, url: `${receiver.url}/ok` } });
  await apiCall('POST', '/connections', {
    name: `metrics-fail-${suffix}`,
    source: { name: source.name },
    destination: { name: `metrics-broken-${suffix}`, url: `${receiver.url}/fail` },
    rules: [{ type: 'retry', strategy: 'linear', count: 5, interval: 600_000 }],
  });
  delayed = await apiCall('POST', '/connections', {
    name: `metrics-later-${suffix}`,
    source: { name: source.name },
    destination: { name: `metrics-warehouse-with-a-long-name-${suffix}`, url: `${receiver.url}/ok/later` },
    rules: [{ type: 'delay', delay: 600_000 }],
  });
  sourceUrl = ok.source.url;

  for (let i = 0; i < 6; i++) {
    const ack = await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.created', id: `ord_${i}` }, { 'X-API-KEY': 'metrics-secret' });
    assert.equal(ack.status, 'SUCCESS');
    sent.accepted += 1;
  }
  await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.created' }, { 'X-API-KEY': 'wrong' }).catch(() => {});
  sent.rejected += 1;

  // 6 deliveries to /ok, 6 failed first attempts to /fail (retries are 10 minutes away).
  await eventually(() => receiver.received.filter((u) => u.startsWith('/ok/orders')).length >= 6 && receiver.received.filter((u) => u.startsWith('/fail')).length >= 6, {
    timeout: 20_000,
    what: 'the deliveries',
  });
  const s = await eventually(async () => {
    const m = await summary();
    return m.totals.failed_attempts >= 6 && m.totals.attempts >= 12 && m ? m : null;
  }, { timeout: T, what: 'the attempts in the metrics API' });
  assert.ok(s.totals.requests >= sent.accepted + sent.rejected, 'the API counts the requests');
  assert.ok(s.totals.error_rate > 0, 'the error rate is not zero');
  assert.ok(s.queue.some((q) => q.destination_id === delayed.destination.id && q.depth >= 6), 'the delayed events are queued');
});

test('the tiles show the counts and the charts render', { timeout: 40_000 }, async () => {
  // Live: the page picks up the new traffic without a reload (every 5 s).
  await page.evaluate(() => (window.__sameDocument = true));
  const s = await eventually(async () => {
    const m = await summary();
    const shown = await tileValue('requests');
    return shown === m.totals.requests && (await tileValue('events')) === m.totals.events ? m : null;
  }, { timeout: 15_000, what: 'the tiles to match the metrics API' });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.ok(s.totals.requests >= sent.accepted + sent.rejected);
  assert.ok(s.totals.events >= sent.accepted * 3, 'three connections per request');

  assert.match(await tile('requests').locator('.mx-tile-value').textContent(), /^\d[\d.]*k?$/);
  assert.match(await tile('requests').textContent(), /rejected/);
  const rate = Number(await tile('error-rate').getAttribute('data-value'));
  assert.ok(rate > 0 && rate < 1, `error rate ${rate}`);
  assert.match(await tile('error-rate').locator('.mx-tile-value').textContent(), /%$/);
  assert.ok(await tile('error-rate').evaluate((el) => el.classList.contains('mx-tile-bad')), 'a non-zero error rate is shown in red');
  assert.match(await tile('p50').locator('.mx-tile-value').textContent(), /^[\d.]+ (ms|s)$/);
  assert.match(await tile('p99').locator('.mx-tile-value').textContent(), /^[\d.]+ (ms|s)$/);
  assert.ok((await tileValue('p99')) >= (await tileValue('p50')), 'p99 ≥ p50');

  // Throughput: a line over the whole window (60 buckets), areas under it, axes and gridlines.
  const d = await chart('throughput').locator('path.ch-line[data-series="requests"]').first().getAttribute('d');
  assert.ok(d.split('L').length >= 60, 'one point per minute');
  assert.ok(await chart('throughput').locator('path.ch-area').count() >= 1);
  assert.ok(await chart('throughput').locator('line.ch-grid').count() >= 2, 'gridlines');
  assert.ok(await chart('throughput').locator('text.ch-label').count() >= 5, 'axis labels');
  // Error rate and latency: values only in the minutes with attempts (paths, or points).
  for (const name of ['errors', 'latency']) {
    assert.ok(await chart(name).locator('path.ch-line, circle.ch-point').count() >= 1, `${name} draws its values`);
  }
  // Queue depth: a bar for the delayed destination, with its count and when it is due.
  const bar = chart('queue').locator(`.ch-bar-row[data-key="${delayed.destination.id}"]`);
  await bar.waitFor({ timeout: T });
  assert.ok(Number(await bar.getAttribute('data-value')) >= 6);
  assert.match(await bar.textContent(), /next due in \d+m/);
  await screenshots(page, '50-metrics');
  // The whole page on a phone: every chart, one under the other.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${ARTIFACTS}/50-metrics-full-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('a tooltip follows the pointer', { timeout: 30_000 }, async () => {
  const box = await chart('throughput').boundingBox();
  // The newest minute is at the right end of the plot.
  await chart('throughput').hover({ position: { x: box.width - 14, y: box.height / 2 } });
  const tip = chart('throughput').locator('.ch-tip');
  await tip.waitFor({ state: 'visible', timeout: T });
  assert.match(await tip.textContent(), /Requests.*Events.*Rejected/);
  assert.match(await tip.locator('.ch-tip-title').textContent(), /\d\d:\d\d/);
  assert.equal(await chart('throughput').locator('.ch-cursor').getAttribute('visibility'), 'visible');
  await page.screenshot({ path: `${ARTIFACTS}/51-metrics-tooltip-1280x800.png` });
  await page.mouse.move(2, 2);
  await tip.waitFor({ state: 'hidden', timeout: T });

  // A queue bar tells its count and when its oldest event is due.
  await chart('queue').locator(`.ch-bar-row[data-key="${delayed.destination.id}"] .ch-bar`).hover();
  await chart('queue').locator('.ch-tip').waitFor({ state: 'visible', timeout: T });
  assert.match(await chart('queue').locator('.ch-tip').textContent(), /metrics-warehouse.*Queued\s*\d+.*Oldest due\s*in \d+m/);

  // The keyboard reads the values too.
  await chart('latency').focus();
  await page.keyboard.press('ArrowLeft');
  await chart('latency').locator('.ch-tip').waitFor({ state: 'visible', timeout: T });
  assert.match(await chart('latency').locator('.ch-tip').textContent(), /p99.*p50/);
  await page.keyboard.press('Escape');
  await chart('latency').locator('.ch-tip').waitFor({ state: 'hidden', timeout: T });
});

test('switch the window: 15 min, 6 h, 24 h', { timeout: 40_000 }, async () => {
  for (const [label, value, minutes] of [['15 min', '15m', 15], ['6 h', '6h', 360], ['24 h', '24h', 1440]]) {
    const asked = page.waitForRequest((r) => r.url().includes(`/metrics/summary?minutes=${minutes}`), { timeout: T });
    await page.getByTestId('metrics-window').getByRole('radio', { name: label }).click();
    await asked;
    await page.waitForURL(new RegExp(`#/metrics\\?window=${value}$`), { timeout: T });
    assert.equal(await page.getByTestId('metrics-page').getAttribute('data-window'), value);
    await eventually(async () => {
      const dd = await chart('throughput').locator('path.ch-line[data-series="requests"]').first().getAttribute('d');
      return dd && dd.split('L').length === minutes;
    }, { timeout: T, what: `${minutes} buckets drawn` });
    assert.ok((await tileValue('requests')) >= sent.accepted + sent.rejected);
    if (value === '6h') await screenshots(page, '52-metrics-6h');
  }
  // A deep link opens the window it names.
  await visit('#/metrics?window=15m');
  await page.getByTestId('metrics-page').waitFor({ timeout: T });
  assert.equal(await page.getByTestId('metrics-page').getAttribute('data-window'), '15m');
  assert.equal(await page.getByTestId('metrics-window').locator('[aria-checked="true"]').textContent(), '15 min');
  await chart('throughput').locator('path.ch-line').first().waitFor({ timeout: T });
});

test('a new request shows up live', { timeout: 30_000 }, async () => {
  const before = await tileValue('requests');
  await sendWithCurl(`${sourceUrl}/orders`, { type: 'order.created', id: 'ord_live' }, { 'X-API-KEY': 'metrics-secret' });
  await eventually(async () => (await tileValue('requests')) > before, { timeout: 12_000, what: 'the requests tile to count the new request' });
});

test('dark mode', { timeout: 30_000 }, async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await visit('#/metrics');
  await chart('throughput').locator('path.ch-line').first().waitFor({ timeout: T });
  await chart('queue').locator('.ch-bar-row').first().waitFor({ timeout: T });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(12, 12, 16)', 'the dark palette applies');
  await screenshots(page, '53-metrics-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('the empty state when there is no traffic', { timeout: 30_000 }, async () => {
  const now = Date.now();
  const at = (i) => new Date(Math.floor(now / 60_000) * 60_000 - (59 - i) * 60_000).toISOString();
  const idle = {
    minutes: 60,
    now: new Date(now).toISOString(),
    buckets: Array.from({ length: 60 }, (_, i) => ({ at: at(i), requests: 0, rejected: 0, events: 0, attempts: 0, failed_attempts: 0, latency_p50_ms: null, latency_p99_ms: null })),
    totals: { requests: 0, events: 0, attempts: 0, failed_attempts: 0, error_rate: 0, latency_p50_ms: null, latency_p99_ms: null },
    queue: [],
  };
  await page.route('**/metrics/summary?*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(idle) }));
  await visit('#/metrics');
  await page.getByTestId('metrics-empty').waitFor({ state: 'visible', timeout: T });
  assert.match(await page.getByTestId('metrics-empty').textContent(), /No traffic in the last hour/);
  assert.equal(await tileValue('requests'), 0);
  assert.equal(await tile('error-rate').locator('.mx-tile-value').textContent(), '—');
  assert.equal(await tile('p99').locator('.mx-tile-value').textContent(), '—');
  assert.equal(await page.locator('.mx-grid').isHidden(), true, 'no empty charts');
  await screenshots(page, '54-metrics-empty');
  await page.unroute('**/metrics/summary?*');
});

test('no request from the page leaves the machine, and no script error', () => {
  assert.ok(requested.length > 10, `the page made requests (${requested.length})`);
  const outside = requested.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:') return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  });
  assert.deepEqual(outside, [], 'every request goes to 127.0.0.1');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
});
