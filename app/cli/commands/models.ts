// ftune models download ORG/NAME[@REV]: a model by Hugging Face id into the hub's cache (shared
// with Python's transformers), with a progress bar, resuming an interrupted download.
import { SingleBar } from "cli-progress";
import type { Command } from "commander";

import { type DownloadProgress, downloadModel, HubDownloadError } from "../../core/models/hub-download.ts";
import { call, withCore } from "../core.ts";
import { EXIT, UserError } from "../errors.ts";

interface DownloadOptions {
  revision?: string;
  add?: boolean;
  json?: boolean;
}

export const formatBytes = (n: number): string => {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
};

/** A bar over the whole download on a terminal; a line per file otherwise; JSON lines with --json. */
function downloadReporter(json: boolean) {
  const tty = Boolean(process.stderr.isTTY) && !json;
  let bar: SingleBar | undefined;
  let current = "";
  return {
    progress(p: DownloadProgress) {
      if (json) {
        if (p.fileBytes === p.fileSize || p.resumedFrom !== undefined)
          process.stdout.write(`${JSON.stringify({ kind: "progress", ...p })}\n`);
        return;
      }
      if (tty) {
        bar ??= new SingleBar({
          format: "[{bar}] {percentage}% | {done} of {total_size} | {file} | ETA {eta_formatted}",
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 200,
        });
        if (!bar.isActive)
          bar.start(p.totalBytes, p.bytes, { done: "0 B", total_size: formatBytes(p.totalBytes), file: "" });
        bar.update(p.bytes, { done: formatBytes(p.bytes), file: p.file });
      } else if (p.file !== current) {
        current = p.file;
        const resumed = p.resumedFrom ? ` (resuming at ${formatBytes(p.resumedFrom)})` : "";
        process.stderr.write(`${p.file}: ${formatBytes(p.fileSize)}${resumed}\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

export function registerModels(program: Command): void {
  const models = program.command("models").description("models by Hugging Face id, in the hub's cache");

  models
    .command("download <id>")
    .description(
      "download ORG/NAME[@REV] from the Hugging Face hub into its cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), resuming an interrupted download; HF_TOKEN for gated models, HF_ENDPOINT for a mirror",
    )
    .option("--revision <rev>", "branch, tag or commit (same as ID@REV)")
    .option("--add", "also add it to the app's model library")
    .option("--json", "JSON lines on stdout: progress, then the result")
    .action(async (ref: string, opts: DownloadOptions) => {
      if (opts.revision && ref.includes("@"))
        throw new UserError("give the revision once: ID@REV or --revision REV", EXIT.usage);
      const target = opts.revision ? `${ref}@${opts.revision}` : ref;
      const reporter = downloadReporter(Boolean(opts.json));
      let result: Awaited<ReturnType<typeof downloadModel>>;
      try {
        result = await downloadModel(target, {
          onPlan: (plan) => {
            if (!opts.json)
              process.stderr.write(
                `${plan.id}@${plan.revision} (commit ${plan.commit.slice(0, 12)}): ${plan.files.length} files, ${formatBytes(plan.totalBytes)}\n`,
              );
          },
          onProgress: (p) => reporter.progress(p),
        });
      } catch (err) {
        throw err instanceof HubDownloadError ? new UserError(err.message) : err;
      } finally {
        reporter.stop();
      }
      const name = result.revision === "main" ? result.id : `${result.id}@${result.revision}`;
      if (opts.add) await withCore((core) => call(core, "addModel", { path: name }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ kind: "done", ...result, added: Boolean(opts.add) })}\n`);
      } else {
        process.stderr.write(`${result.cached ? "already in the cache" : "downloaded"}: ${result.path}\n`);
        process.stdout.write(
          `${name}${opts.add ? " added to the model library;" : ""} use it as --model ${name} or model: ${name}\n`,
        );
      }
    });
}
