// The server's access token: random per start, shown once in the URL the user opens, and
// compared in constant time so response timing does not leak it.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const newToken = (): string => randomBytes(32).toString("base64url");

/** Equal-length digests, so neither length nor content shows in the comparison time. */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** The token of `Authorization: Bearer <token>`. */
export function bearer(req: IncomingMessage): string | null {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}
