// Front-end work without rebuilding Pier: serves crates/pier-server/dashboard/ from disk and
// proxies everything else (API, ingest) to a running `pier serve`.
//
//   PIER_URL=http://127.0.0.1:8484 node tests/browser/dev-server.mjs   # → http://127.0.0.1:8485
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../crates/pier-server/dashboard');
const upstream = new URL(process.env.PIER_URL || 'http://127.0.0.1:8484');
const port = Number(process.env.PORT || 8485);
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const types = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    if (req.method === 'GET' && url.pathname === '/') file = 'index.html';
    else if (req.method === 'GET' && url.pathname.startsWith('/dashboard/')) file = url.pathname.slice('/dashboard/'.length);
    if (file !== null) {
      const full = path.resolve(root, file);
      if (!full.startsWith(root + path.sep) || !fs.existsSync(full)) {
        res.writeHead(404).end('not found');
        return;
      }
      const headers = { 'content-type': types[path.extname(full)] || 'application/octet-stream', 'cache-control': 'no-store' };
      // The policy pier serves (crates/pier-server/src/dashboard.rs), so dev work respects it.
      if (file === 'index.html') headers['content-security-policy'] = CSP;
      res.writeHead(200, headers);
      fs.createReadStream(full).pipe(res);
      return;
    }
    const proxied = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    proxied.on('error', (e) => res.writeHead(502).end(String(e)));
    req.pipe(proxied);
  })
  .listen(port, '127.0.0.1', () => console.log(`dashboard from disk on http://127.0.0.1:${port} → ${upstream.href}`));
