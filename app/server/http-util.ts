// Small HTTP helpers: JSON responses with safe default headers, and bounded request bodies.
import type { IncomingMessage, ServerResponse } from "node:http";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request's URL, from its target (a path: "/api/…?…"). Anything else, such as an absolute
 * URL or "//[" (which the URL parser would read as a host), is a 400, never a throw.
 */
export function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? "/";
  if (!target.startsWith("/")) throw new HttpError(400, "The request target must be a path starting with /.");
  try {
    return new URL(`http://localhost${target}`);
  } catch {
    throw new HttpError(400, "The request URL is malformed.");
  }
}

/** A Host header as the URL parser reads it ({ name: "127.0.0.1", host: "127.0.0.1:8080" }), or null when it is not a plain host. */
function parseHost(value: string): { name: string; host: string } | null {
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(value)) return null;
  try {
    const url = new URL(`http://${value}`);
    return { name: url.hostname.toLowerCase(), host: url.host.toLowerCase() };
  } catch {
    return null;
  }
}

const LOOPBACK_NAMES = /^(localhost|\[::1\]|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * Why a request may not come in, or null. A browser page on another site can aim requests at
 * this server (or at a name it points to 127.0.0.1: DNS rebinding); it cannot choose their
 * Host and Origin headers. So: with `loopbackOnly` (bound to this machine) the Host must name
 * this machine, and an Origin, when a browser sends one, must be this server's own.
 */
export function originProblem(req: IncomingMessage, o: { loopbackOnly: boolean }): string | null {
  const given = req.headers.host;
  const host = given === undefined ? undefined : parseHost(given);
  if (host === null) return "The Host header is malformed.";
  if (host && o.loopbackOnly && !LOOPBACK_NAMES.test(host.name)) {
    return `Requests must be addressed to 127.0.0.1 or localhost, not "${host.name}".`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let from: string | null = null;
    try {
      const url = new URL(origin);
      // Through the URL parser like the Host, so a default port (":80") compares equal to none.
      from = url.protocol === "http:" ? url.host.toLowerCase() : null;
    } catch {
      from = null;
    }
    if (from === null || !host || from !== host.host) {
      return "Requests from other sites are not allowed: open the URL that `ftune serve` printed.";
    }
  }
  return null;
}

/** Headers every response carries. */
export function baseHeaders(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

/** Reads the whole body as JSON (empty → {}); 413 past `limit` bytes, 400 when not JSON. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, `The request body is over the limit of ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, `The request body is over the limit of ${limit} bytes.`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // The client went away or sent a broken body (bad chunking): nobody to answer but the log.
    throw new HttpError(400, "The request body did not arrive whole.");
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "The request body is not valid JSON.");
  }
}
