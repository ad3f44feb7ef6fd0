// Files from a browser (which cannot hand us a local path): the raw body streams to
// `<dataDir>/uploads/` under a sanitized, unique name; the path comes back for detectColumns
// and importDataset.
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { basename, extname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

import { diskFullMessage } from "../core/disk-full.ts";
import { HttpError } from "./http-util.ts";

/** A file name without folders or odd characters, keeping its extension (format detection uses it). */
export function safeFileName(name: string): string {
  const base = basename(name.replace(/\\/g, "/"));
  const ext = /^\.\w{1,15}$/.test(extname(base)) ? extname(base) : "";
  const stem = base
    .slice(0, base.length - ext.length)
    .replace(/[^\w.-]+/g, "_")
    .replace(/^[.-]+/, "")
    .slice(0, 80);
  return `${stem || "upload"}${ext}`;
}

export async function receiveUpload(
  req: IncomingMessage,
  dataDir: string,
  name: string,
  limit: number,
): Promise<string> {
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    throw new HttpError(413, `The file is over the upload limit of ${limit} bytes.`);
  }
  const dir = join(dataDir, "uploads");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = join(dir, `${stamp}-${Math.random().toString(36).slice(2, 8)}-${safeFileName(name)}`);
  let size = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(new HttpError(413, `The file is over the upload limit of ${limit} bytes.`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(req, limiter, createWriteStream(path, { flags: "wx" }));
  } catch (err) {
    rmSync(path, { force: true });
    if (err instanceof HttpError) throw err;
    const full = diskFullMessage(err, "saving the upload");
    throw full ? new HttpError(507, full) : new HttpError(400, `The upload failed: ${(err as Error).message}`);
  }
  return path;
}
