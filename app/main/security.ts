// The window's security rules in one place: the content security policy (only the app's own
// scripts and styles, no remote anything), no navigation, no new windows, no permissions beyond
// writing to the clipboard, and the check that an IPC message comes from our own page.
import type { Session, WebContents, WebFrameMain } from "electron";

export const APP_SCHEME = "app";
export const APP_HOST = "renderer";
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** True when `frame` shows a page of the app itself (not a page it was tricked into loading). */
export function isOwnFrame(frame: Pick<WebFrameMain, "url"> | null | undefined): boolean {
  if (!frame) return false;
  try {
    const url = new URL(frame.url);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
  } catch {
    return false;
  }
}

export function hardenSession(session: Session): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [CSP] } });
  });
  // The Copy buttons write to the clipboard; nothing else (camera, notifications…) is needed.
  session.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(permission === "clipboard-sanitized-write"),
  );
}

export function hardenContents(contents: WebContents): void {
  contents.setWindowOpenHandler(() => ({ action: "deny" }));
  contents.on("will-navigate", (event) => event.preventDefault());
  contents.on("will-redirect", (event) => event.preventDefault());
  contents.on("will-attach-webview", (event) => event.preventDefault());
}
