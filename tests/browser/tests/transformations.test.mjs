// The Transformations page in real headless Chromium against a real `pier serve` (started by
// run.sh). One story, in order: write a transformation in the editor (code + an env variable);
// test-run it on an edited sample request and see the output request and a console line; save
// it and see it in the list; a second one with the same name is refused on the name field; a
// connection whose transform rule uses it receives a request, and its execution appears live
// with its logs; a recent request can be picked for a test run; screenshots at both sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PIER_URL, API_KEY, launch, startReceiver, apiCall, sendWithCurl, eventually, screenshots } from '../lib/harness.mjs';

const T = 10_000; // every wait in the page has this timeout
const suffix = Math.random().toString(36).slice(2, 8);
const NAME = `tag-orders-${suffix}`;
const CODE = `addHandler("transform", (request, context) => {
  // Tag the order with the region, and say so in the console.
  console.log("order", request.body.id, "in", process.env.REGION);
  request.headers["x-region"] = context.env.REGION;
  request.body.region = process.env.REGION;
  return request;
});`;
let browser, page, receiver;
let transformation, sourceUrl, requestId;
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

const editor = () => page.getByTestId('transformation-editor');
const item = (name) => page.locator(`[data-testid="transformation-item"][data-name="${name}"]`);
const executions = () => page.locator('[data-testid="execution"]');
/** Scroll so that `selector` starts just below the top of the window (and the phone top bar). */
function scrollTo(selector) {
  return page.locator(selector).evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 64));
}
async function visit(hash) {
  await page.goto('about:blank');
  await page.goto(`${PIER_URL}/${hash}`);
}

test('sign in and open Transformations', { timeout: 30_000 }, async () => {
  await page.goto(`${PIER_URL}/`);
  await page.getByTestId('api-key').fill(API_KEY);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('nav-transformations').click();
  await page.waitForURL(/#\/transformations$/, { timeout: T });
  await page.getByTestId('transformations-list').waitFor({ timeout: T });
  assert.equal(await page.getByTestId('coming-soon').count(), 0, 'no more "coming soon"');
  assert.equal(await page.getByTestId('nav-transformations').locator('.nav-soon').count(), 0, 'no "Soon" badge in the navigation');
});

test('a new transformation starts from the template', { timeout: 30_000 }, async () => {
  await page.getByTestId('new-transformation').click();
  await page.waitForURL(/#\/transformations\/new$/, { timeout: T });
  await editor().waitFor({ timeout: T });
  const code = await page.getByTestId('tf-code').inputValue();
  assert.match(code, /^addHandler\("transform", \(request, context\) => \{/);
  assert.match(code, /return request;/);
  // The code is highlighted locally: keywords and strings have their own spans.
  assert.ok(await editor().locator('.code-hl .tk-kw', { hasText: 'return' }).count(), 'keywords are highlighted');
  assert.ok(await editor().locator('.code-hl .tk-s', { hasText: '"transform"' }).count(), 'strings are highlighted');
  assert.match(await page.getByTestId('tf-state').textContent(), /Not saved yet/);
});

test('write it and test-run it on a sample request: output and console', { timeout: 30_000 }, async () => {
  await page.getByTestId('tf-name').fill(NAME);
  await page.getByTestId('tf-code').fill(CODE);
  assert.equal(await editor().locator('.code-hl').textContent(), CODE + '\n', 'the highlighted copy follows the textarea');
  await page.getByTestId('env-add').click();
  await page.getByTestId('env-key').last().fill('REGION');
  await page.getByTestId('env-value').last().fill('eu-west');
  await page.getByTestId('run-input').fill(JSON.stringify({ headers: { 'content-type': 'application/json' }, body: { id: 'ord_42', total: 10 }, path: '/orders', query: 'a=1' }, null, 2));
  await page.getByTestId('tf-run').click();
  const output = page.getByTestId('run-output');
  await output.locator('[data-testid="body-viewer"]').waitFor({ timeout: T });
  const out = await output.textContent();
  assert.match(out, /"region"/);
  assert.match(out, /"eu-west"/);
  assert.match(out, /"x-region"/);
  const line = page.getByTestId('run-console').getByTestId('console-line').first();
  await line.waitFor({ timeout: T });
  assert.match(await line.textContent(), /order ord_42 in eu-west/);
  assert.match(await page.getByTestId('run-status').textContent(), /Success/);
  assert.match(await page.getByTestId('run-status').textContent(), /Body changed/);
  // Desktop: the whole test pane; phone: the output and the console below it.
  await screenshots(page, '45-transformation-test-run', { prepare: (s) => scrollTo(s.width < 800 ? '[data-testid="run-output"]' : '.tf-test') });
});

test('a failing run shows the error in the output and the console', { timeout: 30_000 }, async () => {
  await page.getByTestId('run-input').fill('{"body": null}');
  await page.getByTestId('tf-run').click();
  await page.getByTestId('run-output').getByText('The transformation failed').waitFor({ timeout: T });
  assert.match(await page.getByTestId('run-output').textContent(), /TypeError/);
  assert.match(await page.getByTestId('run-status').textContent(), /Error/);
  // Invalid JSON is caught in the page, before any call.
  await page.getByTestId('run-input').fill('{"body": ');
  await page.getByTestId('tf-run').click();
  await page.getByText('The input is not valid JSON').waitFor({ timeout: T });
});

test('save it and see it in the list', { timeout: 30_000 }, async () => {
  await page.getByTestId('tf-save').click();
  await page.waitForURL(/#\/transformations\/trs_/, { timeout: T });
  await item(NAME).waitFor({ timeout: T });
  assert.match(await item(NAME).getAttribute('class'), /active/);
  assert.match(await page.getByTestId('tf-state').textContent(), /Saved/);
  const list = await apiCall('GET', `/transformations?name=${NAME}`);
  assert.equal(list.models.length, 1);
  transformation = list.models[0];
  assert.equal(transformation.code, CODE);
  assert.deepEqual(transformation.env, { REGION: 'eu-west' });
  assert.ok(page.url().endsWith(`#/transformations/${transformation.id}`));
  // A fresh load of the page shows it in the list and opens it.
  await visit(`#/transformations/${transformation.id}`);
  await editor().waitFor({ timeout: T });
  assert.equal(await page.getByTestId('tf-name').inputValue(), NAME);
  assert.equal(await page.getByTestId('env-value').first().inputValue(), 'eu-west');
  await item(NAME).waitFor({ timeout: T });
});

test('a second transformation with the same name is refused on the name field', { timeout: 30_000 }, async () => {
  await page.getByTestId('new-transformation').click();
  await page.waitForURL(/#\/transformations\/new$/, { timeout: T });
  await page.getByTestId('tf-name').fill(NAME);
  await page.getByTestId('tf-save').click();
  const nameField = editor().locator('.invalid[data-field="name"]');
  await nameField.waitFor({ timeout: T });
  assert.match(await nameField.textContent(), /already exists/);
  assert.equal((await apiCall('GET', `/transformations?name=${NAME}`)).models.length, 1);
  // Leaving with unsaved changes asks first.
  await item(NAME).click();
  await page.getByTestId('confirm').click();
  await page.waitForURL(new RegExp(`#/transformations/${transformation.id}$`), { timeout: T });
  await editor().waitFor({ timeout: T });
});

test('a connection that uses it runs it: the execution appears live with its logs', { timeout: 45_000 }, async () => {
  const conn = await apiCall('POST', '/connections', {
    name: `tagged-${suffix}`,
    source: { name: `tf-shop-${suffix}` },
    destination: { name: `tf-orders-${suffix}`, url: `${receiver.url}/tagged` },
    rules: [{ type: 'transform', transformation_id: transformation.id }],
  });
  sourceUrl = conn.source.url;
  await page.evaluate(() => (window.__sameDocument = true));
  const ack = await sendWithCurl(`${sourceUrl}/orders?ref=test`, { id: 'ord_77', total: 99 });
  assert.equal(ack.status, 'SUCCESS');
  requestId = ack.request_id;
  await executions().first().waitFor({ timeout: T });
  const row = executions().first();
  await eventually(async () => (await row.textContent()).includes(`tagged-${suffix}`), { timeout: T, what: 'the connection name on the execution' });
  await row.locator('.tf-exec-head').click();
  await row.getByTestId('console-line').first().waitFor({ timeout: T });
  assert.match(await row.getByTestId('console-line').first().textContent(), /order ord_77 in eu-west/);
  assert.equal(await row.locator(`a[href="#/requests/${requestId}"]`).count(), 1, 'the execution links to its request');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.match(await page.getByTestId('executions').textContent(), new RegExp(`Used by\\s*tagged-${suffix}`));

  // The delivery carries what the code returned.
  const got = await eventually(() => receiver.received.find((r) => r.url.startsWith('/tagged')), { timeout: T, what: 'the transformed delivery' });
  assert.equal(JSON.parse(got.body).region, 'eu-west');
  assert.equal(got.headers['x-region'], 'eu-west');
  await screenshots(page, '46-transformation-executions', { prepare: () => scrollTo('[data-testid="executions"]') });
});

test('a recent request can be picked for a test run', { timeout: 30_000 }, async () => {
  await visit(`#/transformations/${transformation.id}`);
  await editor().waitFor({ timeout: T });
  const select = page.getByTestId('run-request');
  await eventually(async () => (await select.locator(`option[value="${requestId}"]`).count()) === 1, { timeout: T, what: 'the request in the picker' });
  await select.selectOption(requestId);
  const sample = JSON.parse(await page.getByTestId('run-input').inputValue());
  assert.equal(sample.body.id, 'ord_77');
  assert.equal(sample.path, '/orders');
  assert.equal(sample.query, 'ref=test');
  await page.getByTestId('tf-run').click();
  await page.getByTestId('run-output').locator('[data-testid="body-viewer"]').waitFor({ timeout: T });
  assert.match(await page.getByTestId('run-console').textContent(), /order ord_77 in eu-west/);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshots(page, '47-transformation-editor');
});

test('screenshots of the list', { timeout: 30_000 }, async () => {
  await visit('#/transformations');
  await item(NAME).waitFor({ timeout: T });
  await screenshots(page, '48-transformations-list');
  await visit('#/transformations/new');
  await editor().waitFor({ timeout: T });
  await screenshots(page, '49-transformation-new');
});

test('no request from the page leaves the machine, and no script error', () => {
  const outside = requested.filter((u) => {
    const url = new URL(u);
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.protocol === 'about:') return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  });
  assert.deepEqual(outside, [], 'every request goes to 127.0.0.1');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
});
