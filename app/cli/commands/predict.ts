// ftune predict: run a model folder — or the fold models of a K-fold run folder, averaged —
// over a CSV/TSV/JSONL/Parquet file, batched, on CPU or CUDA.
import { createWriteStream, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { stringify } from "csv-stringify";

import { readTable } from "../../core/datasets/index.ts";
import { resolveModel } from "../../core/models/bundled.ts";
import { native } from "../../native/addon.ts";
import { EXIT, UserError } from "../errors.ts";
import { int } from "../options.ts";

interface PredictOptions {
  model: string;
  checkpoint: "best" | "final";
  weights?: string;
  input: string;
  textColumn: string;
  pairColumn?: string;
  idColumn?: string;
  output?: string;
  maxLength?: number;
  batchSize: number;
  device: string;
}

/**
 * The model folders `--model` names: the folder itself when it holds a model, else the
 * `fold-<k>/<checkpoint>` folders of a run folder (`ftune train --out`), in fold order.
 */
export function modelFolders(dir: string, checkpoint: string): string[] {
  if (existsSync(join(dir, "config.json"))) return [dir];
  const folds = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => /^fold-\d+$/.test(n))
        .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
        .map((n) => join(dir, n, checkpoint))
        .filter((d) => existsSync(join(d, "config.json")))
    : [];
  if (folds.length === 0)
    throw new UserError(
      `${dir} is neither a model folder (config.json) nor a run folder with fold-<k>/${checkpoint}/ models`,
    );
  return folds;
}

/** A folder as given, or a Hugging Face id from the hub's cache. */
function resolveModelRef(ref: string): string {
  try {
    return resolveModel(ref, process.cwd());
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** Fold weights: equal, or a comma list (one per fold model, normalized to sum to 1). */
function foldWeights(spec: string | undefined, n: number): number[] {
  if (!spec || spec === "equal") return Array(n).fill(1 / n);
  const w = spec.split(",").map(Number);
  if (w.length !== n || w.some((x) => !Number.isFinite(x) || x < 0) || w.every((x) => x === 0))
    throw new UserError(`--weights needs ${n} non-negative numbers (one per fold model), got "${spec}"`, EXIT.usage);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

const softmax = (row: number[]) => {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
};

export function registerPredict(program: Command): void {
  program
    .command("predict")
    .description(
      "predict with a model folder: CSV out with the id column and `prediction` (regression) or `label` + `prob_<label>` columns",
    )
    .requiredOption(
      "--model <dir>",
      "a Hugging Face model folder (e.g. an exported best/), or a run folder: its fold models' predictions averaged",
    )
    .option("--checkpoint <kind>", "with a run folder: each fold's best or final model", "best")
    .option("--weights <list>", "with a run folder: equal (default) or one weight per fold model, e.g. 1,1,2")
    .requiredOption("--input <file>", "CSV, TSV, JSONL or Parquet file")
    .requiredOption("--text-column <col>", "column holding the text")
    .option("--pair-column <col>", "column holding the second text, for pair tasks")
    .option("--id-column <col>", "column copied to the output (default: a column named id, if any)")
    .option("--output <file>", "write the CSV here instead of stdout")
    .option("--max-length <n>", "truncate texts to this many tokens (default: the model's)", int)
    .option("--batch-size <n>", "texts per batch", int, 32)
    .option("--device <device>", "auto, cpu, cuda or cuda:N", "auto")
    .action(async (o: PredictOptions) => {
      if (o.checkpoint !== "best" && o.checkpoint !== "final")
        throw new UserError(`--checkpoint must be best or final, got "${o.checkpoint}"`, EXIT.usage);
      const folders = modelFolders(resolveModelRef(o.model), o.checkpoint);
      const weights = foldWeights(o.weights, folders.length);
      const models = folders.map((dir) => native.SequenceModel.load(dir, { maxLength: o.maxLength, device: o.device }));
      const model = models[0] as (typeof models)[number];
      const info = model.info();
      if (models.some((m) => m.info().numLabels !== info.numLabels))
        throw new UserError(`the fold models in ${o.model} do not have the same number of outputs`);
      if (folders.length > 1)
        process.stderr.write(`ftune: averaging ${folders.length} fold models (${o.checkpoint}) of ${o.model}\n`);
      if (info.initialized.some((n) => n.startsWith("classifier") || n.startsWith("head."))) {
        process.stderr.write(
          "ftune: note: this folder has no trained head; predictions come from a freshly initialized one (fine-tune it with `ftune train`).\n",
        );
      }
      const table = await readTable(o.input);
      for (const col of [o.textColumn, o.pairColumn, o.idColumn].filter((c): c is string => Boolean(c))) {
        if (!table.columns.includes(col))
          throw new UserError(`${o.input} has no column "${col}"; its columns are: ${table.columns.join(", ")}`);
      }
      const idColumn = o.idColumn ?? (table.columns.includes("id") ? "id" : undefined);
      const texts = table.rows.map((r) => String(r.values[o.textColumn] ?? ""));
      const pairs = o.pairColumn ? table.rows.map((r) => String(r.values[o.pairColumn as string] ?? "")) : undefined;
      const labels =
        info.labels.length === info.numLabels
          ? info.labels
          : Array.from({ length: info.numLabels }, (_, i) => `LABEL_${i}`);
      const header = [
        ...(idColumn ? [idColumn] : []),
        ...(info.numLabels === 1 ? ["prediction"] : ["label", ...labels.map((l) => `prob_${l}`)]),
      ];

      const csv = stringify({ header: true, columns: header });
      const done = new Promise<void>((resolve, reject) => {
        const out = o.output ? createWriteStream(o.output) : process.stdout;
        csv.pipe(out);
        csv.on("error", reject);
        if (o.output) out.on("finish", resolve);
        else csv.on("end", resolve);
      });
      // Chunks keep memory flat and let the process stay responsive on large inputs.
      const chunk = Math.max(o.batchSize * 8, 256);
      for (let at = 0; at < texts.length; at += chunk) {
        // Each model's regression output, or class probabilities, weighted and summed.
        const outputs = models.map((m) => {
          const logits = m.predict(texts.slice(at, at + chunk), pairs?.slice(at, at + chunk), o.batchSize);
          return info.numLabels === 1 ? logits : logits.map(softmax);
        });
        const first = outputs[0] ?? [];
        first.forEach((_, i) => {
          const id = idColumn ? [table.rows[at + i]?.values[idColumn] ?? ""] : [];
          const row = (first[i] ?? []).map((_, c) =>
            outputs.reduce((sum, out, m) => sum + (weights[m] as number) * (out[i]?.[c] ?? 0), 0),
          );
          if (info.numLabels === 1) csv.write([...id, row[0]]);
          else csv.write([...id, labels[row.indexOf(Math.max(...row))], ...row]);
        });
      }
      csv.end();
      await done;
      if (o.output) process.stderr.write(`ftune: wrote ${texts.length} predictions to ${o.output}\n`);
    });
}
