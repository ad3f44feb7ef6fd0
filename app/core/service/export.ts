// Exporting a checkpoint: the engine rewrites it in the layout that loads the standard way
// for its head (older checkpoints included), a model card goes beside it, and the whole folder
// is written next to the target and renamed into place, so a failure (a full disk) leaves
// nothing behind and a retry starts clean.
import { existsSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

import { native } from "../../native/addon.ts";
import { ApiError, badRequest } from "../api/errors.ts";
import { type CardFacts, type HeadKind, type LoadingInfo, loadingCode, modelCard } from "../export/loading.ts";

export interface Exported {
  path: string;
  head: HeadKind;
  python: string;
}

const DISK_FULL = /the disk is full|ENOSPC|EDQUOT|No space left on device|Disk quota exceeded/i;

/** A plain message for a full disk; other errors as they are. */
function plain(err: unknown, out: string): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string })?.code;
  if (code === "ENOTEMPTY" || code === "EEXIST") {
    // Another export filled the folder meanwhile.
    return badRequest(`outDir ${out} is not empty; choose a new or empty folder.`);
  }
  if (DISK_FULL.test(message) || code === "ENOSPC") {
    return new ApiError(
      500,
      `The disk is full: could not write the export to ${out}. Nothing was left behind; free some space and try again.`,
    );
  }
  return err;
}

/**
 * Writes the checkpoint folder `checkpoint` to the new or empty folder `out` (absolute), with
 * a README.md from `facts`.
 */
export function exportCheckpoint(
  checkpoint: string,
  out: string,
  facts: (info: LoadingInfo) => CardFacts,
  pairs: boolean,
): Exported {
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw badRequest(`outDir ${out} is not empty; choose a new or empty folder.`);
  }
  const staging = join(dirname(out), `.${basename(out)}.export-${process.pid}-${Date.now()}`);
  try {
    const model = native.SequenceModel.load(checkpoint, { device: "cpu" });
    const m = model.info();
    const head = m.pooling as HeadKind;
    const info: LoadingInfo = {
      head,
      modelType: m.modelType,
      numLabels: m.numLabels,
      labels: m.labels,
      maxLength: m.maxLength,
      pairs,
    };
    // The engine writes its own staging folder beside `staging` and renames it there.
    model.save(staging);
    writeFileSync(join(staging, "README.md"), modelCard(out, info, facts(info)));
    if (existsSync(out)) rmdirSync(out); // empty, checked above
    renameSync(staging, out);
    return { path: out, head, python: loadingCode(out, info) };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw plain(err, out);
  }
}
