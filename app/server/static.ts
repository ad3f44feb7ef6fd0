// Serves the built renderer (renderer/dist) with a strict Content-Security-Policy; paths
// cannot leave that folder. Without a build, a page says how to make one.
import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream";

export const CSP =
  "default-src 'self'; connect-src 'self' ws://127.0.0.1:*; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Finetune Studio</title>
<body style="font-family: sans-serif; margin: 3em"><h1>Finetune Studio</h1>
<p>The user interface is not built yet. Run <code>npm run build:renderer</code>, then reload this page.</p>
<p>The API is up: <code>POST /api/rpc/&lt;method&gt;</code> with the token from the URL.</p></body>`;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Content-Security-Policy": CSP,
  });
  res.end(body);
}

export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "text/plain; charset=utf-8", "Method not allowed");
    return;
  }
  const base = resolve(root);
  if (!existsSync(join(base, "index.html"))) {
    send(res, 200, "text/html; charset=utf-8", NOT_BUILT);
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    send(res, 400, "text/plain; charset=utf-8", "Bad path");
    return;
  }
  let file = resolve(base, `.${decoded.startsWith("/") ? decoded : `/${decoded}`}`);
  if (file !== base && !file.startsWith(base + sep)) {
    send(res, 404, "text/plain; charset=utf-8", "Not found");
    return;
  }
  if (!existsSync(file) || statSync(file).isDirectory()) {
    // Client-side routes (no extension) get the app; a missing asset is a 404.
    if (extname(decoded) !== "" && decoded !== "/") {
      send(res, 404, "text/plain; charset=utf-8", "Not found");
      return;
    }
    file = join(base, "index.html");
  }
  const size = statSync(file).size;
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": size,
    "Content-Security-Policy": CSP,
    "Cache-Control": extname(file) === ".html" ? "no-cache" : "public, max-age=3600",
  });
  if (req.method === "HEAD") res.end();
  // A read error (the file went away) ends this response, never the process.
  else pipeline(createReadStream(file), res, () => {});
}
