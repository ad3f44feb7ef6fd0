// `ftune serve`: the API over HTTP (+ WebSocket events) for the browser UI. Binds 127.0.0.1
// unless told otherwise; every /api request needs the token printed at start.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";

import { dispatch, type Handlers, INTERNAL_ERROR, toApiError } from "../core/api/dispatch.ts";
import { DEFAULT_MAX_FILE_BYTES } from "../core/datasets/table.ts";
import type { EventHub } from "../core/events.ts";
import { bearer, newToken, tokenMatches } from "./auth.ts";
import { baseHeaders, HttpError, originProblem, readJson, requestUrl, sendJson } from "./http-util.ts";
import { serveStatic } from "./static.ts";
import { receiveUpload } from "./upload.ts";

/** Whether `host` (the bind address) is this machine only. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL("../../renderer/dist", import.meta.url));

export interface ServerOptions {
  handlers: Handlers;
  events: EventHub;
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  rendererDir?: string;
  maxJsonBytes?: number;
  maxUploadBytes?: number;
}

export interface RunningServer {
  host: string;
  port: number;
  token: string;
  /** The address to open, token included (in the fragment, so it never reaches a log). */
  url: string;
  close(): Promise<void>;
}

/** A slow client whose socket buffers this much is dropped (it reloads and catches up). */
const MAX_SOCKET_BUFFER = 16 * 1024 * 1024;

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? "127.0.0.1";
  const token = o.token ?? newToken();
  const rendererDir = o.rendererDir ?? DEFAULT_RENDERER_DIR;
  const maxJson = o.maxJsonBytes ?? 1024 * 1024;
  const maxUpload = o.maxUploadBytes ?? DEFAULT_MAX_FILE_BYTES;

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!tokenMatches(bearer(req), token)) {
      sendJson(res, 401, { error: "Missing or wrong token: open the URL that `ftune serve` printed." });
      return;
    }
    const rpc = /^\/api\/rpc\/([^/]+)$/.exec(url.pathname);
    if (rpc && req.method === "POST") {
      let method: string;
      try {
        method = decodeURIComponent(rpc[1] as string);
      } catch {
        throw new HttpError(400, "The method name in the URL has a malformed %-escape.");
      }
      const input = await readJson(req, maxJson);
      try {
        sendJson(res, 200, await dispatch(o.handlers, method, input));
      } catch (err) {
        const e = toApiError(err);
        sendJson(res, e.status, e.body);
      }
      return;
    }
    if (url.pathname === "/api/upload" && req.method === "POST") {
      const name = url.searchParams.get("name");
      if (!name) throw new HttpError(400, "Give the file name: /api/upload?name=<file name>");
      sendJson(res, 200, { path: await receiveUpload(req, o.dataDir, name, maxUpload) });
      return;
    }
    sendJson(res, 404, { error: `No such endpoint: ${req.method} ${url.pathname}` });
  }

  /** Answers a request that failed; what is not an HttpError is ours, and only the log sees it. */
  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const status = err instanceof HttpError ? err.status : 500;
    if (status === 500) console.error("ftune: internal error:", err);
    if (!res.headersSent) sendJson(res, status, { error: status === 500 ? INTERNAL_ERROR : (err as Error).message });
    else res.destroy();
    // Stop reading a body we refused (e.g. over the limit).
    if (status === 413) req.destroy();
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    baseHeaders(res);
    // Nothing the client sent may throw out of here: every check answers with a status.
    const url = requestUrl(req);
    const refused = originProblem(req, { loopbackOnly: isLoopback(host) });
    if (refused) throw new HttpError(403, refused);
    if (!url.pathname.startsWith("/api/")) {
      serveStatic(rendererDir, req, res, url.pathname);
      return;
    }
    api(req, res, url).catch((err: unknown) => fail(req, res, err));
  }

  const server = createServer((req, res) => {
    // A stream error with no listener would be thrown at the process.
    req.on("error", () => req.destroy());
    res.on("error", () => res.destroy());
    try {
      handle(req, res);
    } catch (err) {
      fail(req, res, err);
    }
  });
  // Bytes that are not HTTP: Node's parser reports them here; answer 400 and drop the socket.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  /** Refuses an upgrade with a status and a JSON reason, as the API does. */
  function refuse(socket: Socket, status: number, reason: string, message: string): void {
    const body = JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    try {
      let url: URL;
      try {
        url = requestUrl(req);
      } catch (err) {
        refuse(socket, 400, "Bad Request", (err as Error).message);
        return;
      }
      const refused = originProblem(req, { loopbackOnly: isLoopback(host) });
      if (refused) {
        refuse(socket, 403, "Forbidden", refused);
        return;
      }
      if (url.pathname !== "/api/events" || !tokenMatches(url.searchParams.get("token"), token)) {
        refuse(socket, 401, "Unauthorized", "Missing or wrong token: open the URL that `ftune serve` printed.");
        return;
      }
      upgrade(req, socket, head);
    } catch (err) {
      console.error("ftune: internal error:", err);
      socket.destroy();
    }
  });

  function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const unsubscribe = o.events.subscribe((event) => {
        if (ws.bufferedAmount > MAX_SOCKET_BUFFER) ws.terminate();
        else ws.send(JSON.stringify(event));
      });
      ws.on("close", unsubscribe);
      ws.on("error", unsubscribe);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  // Listening: a later server error (e.g. out of file descriptors on accept) is logged, not thrown.
  server.removeAllListeners("error");
  server.on("error", (err) => console.error("ftune: server error:", err));
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    token,
    url: `http://${shown}:${port}/#token=${token}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
