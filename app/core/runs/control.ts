// A run's folder, and the small files that let separate processes (the server, a CLI) agree on
// who trains a run: `owner.json` names the process training it, `cancel-requested` asks that
// process to stop it. SQLite holds the status; these only coordinate processes.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const runDir = (dataDir: string, runId: number): string => join(dataDir, "runs", String(runId));

const ownerFile = (dir: string) => join(dir, "owner.json");
const cancelFile = (dir: string) => join(dir, "cancel-requested");

export function claimRun(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(ownerFile(dir), JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
  rmSync(cancelFile(dir), { force: true });
}

export function releaseRun(dir: string): void {
  rmSync(ownerFile(dir), { force: true });
  rmSync(cancelFile(dir), { force: true });
}

/** True when another process that is still alive is training this run. */
export function ownedElsewhere(dir: string): boolean {
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(ownerFile(dir), "utf8")) as { pid: number }).pid;
  } catch {
    return false;
  }
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function requestCancel(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(cancelFile(dir), new Date().toISOString());
}

export const cancelRequested = (dir: string): boolean => existsSync(cancelFile(dir));
