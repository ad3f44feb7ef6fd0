// Where an export goes. Without a folder: a new one under the data folder's exports/, named
// after the experiment, fold and checkpoint. A relative folder is taken under exports/ too (a
// server's working directory is no place a user would look), and `~/` means the home folder.
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

export const exportsDir = (dataDir: string): string => join(dataDir, "exports");

const slug = (name: string) =>
  name
    .normalize("NFKD")
    .replace(/[^\w.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60) || "experiment";

const usable = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

/** The absolute folder an export of `run` writes to. */
export function exportTarget(
  dataDir: string,
  run: { experimentName: string; fold: number; kind: "best" | "final" },
  outDir?: string,
): string {
  const given = outDir?.trim();
  if (given) {
    if (given === "~" || given.startsWith("~/")) return resolve(homedir(), given.slice(2));
    return isAbsolute(given) ? resolve(given) : resolve(exportsDir(dataDir), given);
  }
  const base = join(exportsDir(dataDir), `${slug(run.experimentName)}-fold${run.fold}-${run.kind}`);
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (usable(dir)) return dir;
  }
}
