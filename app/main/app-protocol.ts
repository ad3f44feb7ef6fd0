// Serves the built renderer under app://renderer/ (a secure, standard scheme, so the page gets
// a real origin, and 'self' in the CSP means exactly these files). Paths cannot leave the
// renderer folder; the folder may sit inside app.asar, which net.fetch reads.
import { existsSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { net, protocol } from "electron";

import { APP_HOST, APP_SCHEME, CSP } from "./security.ts";

// Module scripts load only with a JavaScript MIME type: set it rather than rely on sniffing.
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/** Must run before the app is ready. */
export function registerSchemePrivileges(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
  ]);
}

export function serveRenderer(rendererDir: string): void {
  const base = resolve(rendererDir);
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = resolve(base, `.${decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname)}`);
    if (url.host !== APP_HOST || (file !== base && !file.startsWith(base + sep)) || !existsSync(file)) {
      return new Response("Not found", { status: 404 });
    }
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set("Content-Type", TYPES[extname(file)] ?? "application/octet-stream");
    headers.set("Content-Security-Policy", CSP);
    headers.set("X-Content-Type-Options", "nosniff");
    return new Response(response.body, { status: response.status, headers });
  });
}

export const rendererIndexExists = (rendererDir: string): boolean => existsSync(join(rendererDir, "index.html"));
