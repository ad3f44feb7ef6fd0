// A small disk of its own for full-disk tests: a tmpfs of a few MB mounted on a scratch folder
// (needs root, as in CI containers; elsewhere the tests that use it skip and say why), and a
// way to fill it up to a chosen number of free bytes.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk {
  dir: string;
  /** Bytes free on it now. */
  free(): number;
  /** Writes a filler file until at most `leave` bytes are free; returns the filler's path. */
  fill(leave?: number, name?: string): string;
  unmount(): void;
}

/** Mounts a tmpfs of `megabytes`; a string says why it cannot (then the caller skips). */
export function mountSmallDisk(megabytes: number): SmallDisk | string {
  if (process.platform !== "linux") return "a tmpfs needs Linux";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const dir = mkdtempSync(join(tmpdir(), "ftune-smalldisk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${megabytes}m,mode=0755`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs was refused: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  const free = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(leave = 0, name = "filler.bin") {
      const path = join(dir, name);
      const fd = openSync(path, "a");
      try {
        const chunk = Buffer.alloc(64 * 1024);
        for (;;) {
          const room = free() - leave;
          if (room <= 0) break;
          try {
            writeSync(fd, chunk, 0, Math.min(chunk.length, room));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
            throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
      return path;
    },
    unmount() {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
