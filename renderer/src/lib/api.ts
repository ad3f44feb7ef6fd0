// The one typed client of the contract's API. Two transports, chosen once at start-up: the
// Electron preload bridge when `window.ftune` exists, else HTTP + WebSocket against `ftune serve`
// (token from `#token=` in the URL, then kept in sessionStorage so a reload keeps working).
import type { Api, Method, ServerEvent } from "../../../app/core/api/contract.ts";
import type { ApiFailure, FtuneBridge } from "../../../app/main/bridge.ts";

export type { ApiFailure };

/** A failed call: `status` as HTTP numbers it (400 invalid input, 500 the operation failed). */
export class ApiError extends Error {
  readonly status: number;
  readonly issues: NonNullable<ApiFailure["issues"]>;
  readonly problems: NonNullable<ApiFailure["problems"]>;

  constructor(failure: ApiFailure) {
    super(failure.error);
    this.name = "ApiError";
    this.status = failure.status;
    this.issues = failure.issues ?? [];
    this.problems = failure.problems ?? [];
  }
}

export type Connection = "connecting" | "open" | "closed";

interface Transport {
  readonly kind: "electron" | "http";
  call(method: Method, input: unknown): Promise<unknown>;
  subscribe(listener: (event: ServerEvent) => void, onConnection: (state: Connection) => void): void;
  /** A path the back end can read for a File the user dropped or chose. */
  pathFor(file: File): Promise<string>;
}

declare global {
  interface Window {
    ftune?: FtuneBridge;
  }
}

function electronTransport(bridge: FtuneBridge): Transport {
  return {
    kind: "electron",
    async call(method, input) {
      const envelope = await bridge.call(method, input);
      if (!envelope.ok) throw new ApiError(envelope.failure);
      return envelope.result;
    },
    subscribe(listener, onConnection) {
      bridge.onEvent(listener);
      onConnection("open");
    },
    async pathFor(file) {
      return bridge.pathForFile(file);
    },
  };
}

const TOKEN_KEY = "ftune.token";

/** Takes the token out of the URL (so it is not left in history or screenshots) into sessionStorage. */
function readToken(): string {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromHash = params.get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

async function failureOf(response: Response): Promise<ApiFailure> {
  const body = (await response.json().catch(() => ({}))) as Partial<ApiFailure>;
  const fallback =
    response.status === 401
      ? "Not signed in: open the address `ftune serve` printed (it carries the access token)."
      : `${response.status} ${response.statusText}`;
  return { ...body, status: response.status, error: body.error ?? fallback };
}

function httpTransport(): Transport {
  const token = readToken();
  const headers = { Authorization: `Bearer ${token}` };
  return {
    kind: "http",
    async call(method, input) {
      const response = await fetch(`/api/rpc/${method}`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify(input ?? {}),
      });
      if (!response.ok) throw new ApiError(await failureOf(response));
      return response.json();
    },
    subscribe(listener, onConnection) {
      // Reconnects with back-off; views refetch on "open" so nothing missed while away is lost.
      let delay = 500;
      const connect = () => {
        onConnection("connecting");
        const scheme = location.protocol === "https:" ? "wss" : "ws";
        const socket = new WebSocket(`${scheme}://${location.host}/api/events?token=${encodeURIComponent(token)}`);
        socket.onopen = () => {
          delay = 500;
          onConnection("open");
        };
        socket.onmessage = (message) => listener(JSON.parse(String(message.data)) as ServerEvent);
        socket.onclose = () => {
          onConnection("closed");
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 10_000);
        };
      };
      connect();
    },
    async pathFor(file) {
      const response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers,
        body: file,
      });
      if (!response.ok) throw new ApiError(await failureOf(response));
      return ((await response.json()) as { path: string }).path;
    },
  };
}

const transport: Transport = window.ftune ? electronTransport(window.ftune) : httpTransport();

export const transportKind = transport.kind;

/** Every contract method, typed by the contract. */
export const api = new Proxy({} as Api, {
  get: (_target, method: string) => (input: unknown) => transport.call(method as Method, input),
});

const listeners = new Set<(event: ServerEvent) => void>();
const connectionListeners = new Set<(state: Connection) => void>();
let connection: Connection = "connecting";

transport.subscribe(
  (event) => {
    for (const listener of listeners) listener(event);
  },
  (state) => {
    connection = state;
    for (const listener of connectionListeners) listener(state);
  },
);

/** Subscribes to server events; returns the unsubscribe function (use it as an $effect cleanup). */
export function onServerEvent(listener: (event: ServerEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Calls `listener` now and on every change of the event connection. */
export function onConnection(listener: (state: Connection) => void): () => void {
  connectionListeners.add(listener);
  listener(connection);
  return () => connectionListeners.delete(listener);
}

export const pathForFile = (file: File): Promise<string> => transport.pathFor(file);

/** Native file dialogs exist only in the desktop app. */
export const dialogs = window.ftune ? { pickFile: window.ftune.pickFile, pickFolder: window.ftune.pickFolder } : null;

/** A readable message for anything a call may throw. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
