// Helpers of the browser tests: Chromium, a local receiver, API calls, screenshots, polling.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { chromium } from 'playwright-core';

export const PIER_URL = process.env.PIER_URL;
export const API_KEY = process.env.PIER_API_KEY;
export const ARTIFACTS = process.env.ARTIFACTS || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

if (!PIER_URL || !API_KEY) {
  throw new Error('PIER_URL and PIER_API_KEY must be set: run the tests with tests/browser/run.sh');
}

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A local HTTP destination that answers 200 and records what it received. */
export function startReceiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, received: received.length }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** A management API call with the test key (version 2024-03-01). */
export async function apiCall(method, p, body) {
  const res = await fetch(`${PIER_URL}/2024-03-01${p}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** POST to a source URL with curl (as a sender would), falling back to fetch without curl. */
export function sendWithCurl(url, body, headers = {}) {
  const args = ['-sS', '--max-time', '10', '-X', 'POST', url, '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 15_000 }, async (err, stdout) => {
      if (err && err.code === 'ENOENT') {
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
          resolve(await res.json());
        } catch (e) {
          reject(e);
        }
        return;
      }
      if (err) return reject(err);
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`unexpected answer from the source: ${stdout}`));
      }
    });
  });
}

/** Poll `f` until it returns a truthy value, or fail after `timeout` ms. */
export async function eventually(f, { timeout = 10_000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Screenshots of the current page at every size (then back to the first size). */
export async function screenshots(page, name, { settle = 400, prepare } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const s of SIZES) {
    await page.setViewportSize({ width: s.width, height: s.height });
    if (prepare) await prepare(s);
    await page.waitForTimeout(settle);
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${s.width}x${s.height}.png`), timeout: 10_000 });
  }
  await page.setViewportSize({ width: SIZES[0].width, height: SIZES[0].height });
}
