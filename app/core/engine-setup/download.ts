// A resumable, verified download: bytes go to `<dest>.part`; a later attempt asks for the rest
// (HTTP Range) and starts over when the server ignores it; the whole file must match the
// index's sha256 before it is renamed to `dest`, else the partial file is removed.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";

export interface Progress {
  file: string;
  done: number;
  total: number | null;
}

async function hashOf(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

export async function downloadVerified(
  url: string,
  dest: string,
  sha256: string,
  onProgress: (p: Progress) => void = () => {},
  signal?: AbortSignal,
): Promise<void> {
  const name = url.split("/").at(-1) ?? url;
  if (existsSync(dest)) return;
  const part = `${dest}.part`;
  let start = existsSync(part) ? statSync(part).size : 0;
  let res: Response;
  try {
    res = await fetch(url, { headers: start > 0 ? { Range: `bytes=${start}-` } : {}, signal });
  } catch (err) {
    throw new Error(
      `cannot download ${name} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); run the set-up again to resume`,
    );
  }
  if (res.status === 416 && start > 0) {
    // The part is already complete: verify it below.
    await res.body?.cancel();
  } else if (!res.ok || !res.body) {
    throw new Error(`cannot download ${name}: the server answered ${res.status}`);
  } else if (res.status !== 206) {
    start = 0; // the server sent the whole file
  }
  const hash = createHash("sha256");
  if (start > 0) await hashOf(part, hash);
  const length = Number(res.headers.get("content-length") ?? Number.NaN);
  const total = res.status === 416 ? start : Number.isFinite(length) ? start + length : null;
  let done = start;
  onProgress({ file: name, done, total });
  if (res.status !== 416 && res.body) {
    const fd = openSync(part, start > 0 ? "a" : "w");
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        writeSync(fd, chunk);
        hash.update(chunk);
        done += chunk.length;
        onProgress({ file: name, done, total });
      }
    } catch (err) {
      throw new Error(
        `the download of ${name} was interrupted at ${done} bytes (${(err as Error).message}); run the set-up again to resume`,
      );
    } finally {
      closeSync(fd);
    }
  }
  const got = hash.digest("hex");
  if (got !== sha256.toLowerCase()) {
    rmSync(part, { force: true });
    throw new Error(
      `${name} does not match the sha256 its index publishes (got ${got.slice(0, 12)}…, want ${sha256.slice(0, 12)}…); it was removed, run the set-up again`,
    );
  }
  renameSync(part, dest);
}
