// ftune predict: run a model folder over a CSV/TSV/JSONL/Parquet file, batched, on CPU or CUDA.
import { createWriteStream } from "node:fs";
import type { Command } from "commander";
import { stringify } from "csv-stringify";

import { readTable } from "../../core/datasets/index.ts";
import { native } from "../../native/addon.ts";
import { UserError } from "../errors.ts";
import { int } from "../options.ts";

interface PredictOptions {
  model: string;
  input: string;
  textColumn: string;
  pairColumn?: string;
  idColumn?: string;
  output?: string;
  maxLength?: number;
  batchSize: number;
  device: string;
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
    .requiredOption("--model <dir>", "Hugging Face model folder (e.g. an exported best/ or final/)")
    .requiredOption("--input <file>", "CSV, TSV, JSONL or Parquet file")
    .requiredOption("--text-column <col>", "column holding the text")
    .option("--pair-column <col>", "column holding the second text, for pair tasks")
    .option("--id-column <col>", "column copied to the output (default: a column named id, if any)")
    .option("--output <file>", "write the CSV here instead of stdout")
    .option("--max-length <n>", "truncate texts to this many tokens (default: the model's)", int)
    .option("--batch-size <n>", "texts per batch", int, 32)
    .option("--device <device>", "auto, cpu, cuda or cuda:N", "auto")
    .action(async (o: PredictOptions) => {
      const model = native.SequenceModel.load(o.model, { maxLength: o.maxLength, device: o.device });
      const info = model.info();
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
        const logits = model.predict(texts.slice(at, at + chunk), pairs?.slice(at, at + chunk), o.batchSize);
        logits.forEach((row, i) => {
          const id = idColumn ? [table.rows[at + i]?.values[idColumn] ?? ""] : [];
          if (info.numLabels === 1) {
            csv.write([...id, row[0]]);
          } else {
            const probs = softmax(row);
            csv.write([...id, labels[probs.indexOf(Math.max(...probs))], ...probs]);
          }
        });
      }
      csv.end();
      await done;
      if (o.output) process.stderr.write(`ftune: wrote ${texts.length} predictions to ${o.output}\n`);
    });
}
