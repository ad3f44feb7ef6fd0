// ftune datasets import|list|show: datasets in the data folder ($FTUNE_HOME), as the app sees them.
import type { Command } from "commander";
import { Option } from "commander";

import type { Results } from "../../core/api/contract.ts";
import { detectColumns } from "../../core/datasets/index.ts";
import type { ColumnMapping, Dataset, Task } from "../../core/store/types.ts";
import { call, idArg, withCore } from "../core.ts";
import { int } from "../options.ts";
import { fmt, formatTable } from "../table.ts";

interface ImportOptions {
  text: string;
  label: string;
  task?: Task;
  name?: string;
  pair?: string;
  id?: string;
  group?: string;
  maxLength?: number;
  json?: boolean;
}

/** Regression when the label column holds numbers with more than two values, else classification. */
async function guessTask(path: string, label: string): Promise<Task> {
  const column = (await detectColumns(path)).columns.find((c) => c.name === label);
  return column?.type === "numeric" && column.distinct > 2 ? "regression" : "classification";
}

export function describeDataset(d: Dataset | Results["getDataset"]): string {
  const s = d.stats;
  const lines = [
    `dataset ${d.id}: ${d.name} (${d.task}, ${d.rowCount} rows, ${d.format})`,
    `  file:    ${d.sourcePath}`,
    `  mapping: ${Object.entries(d.mapping)
      .map(([role, col]) => `${role}=${col}`)
      .join(", ")}`,
  ];
  if (s?.label.kind === "regression") {
    lines.push(`  label:   mean ${fmt(s.label.mean)}, std ${fmt(s.label.std)}, range ${s.label.min} to ${s.label.max}`);
  } else if (s?.label.kind === "classification") {
    lines.push(`  classes: ${s.label.classes.map((c) => `${c.label} (${c.count})`).join(", ")}`);
  }
  if (s) lines.push(`  chars:   mean ${fmt(s.textChars.mean, 1)}, p90 ${s.textChars.p90}, max ${s.textChars.max}`);
  if (s?.tokens) {
    const t = s.tokens;
    lines.push(
      `  tokens:  mean ${fmt(t.mean, 1)}, p90 ${t.p90}, p99 ${t.p99}, max ${t.max}; ${t.overMaxLength} over ${t.maxLength}`,
    );
  }
  return lines.join("\n");
}

export function registerDatasets(program: Command): void {
  const datasets = program
    .command("datasets")
    .description("import and inspect datasets in the data folder ($FTUNE_HOME)");

  datasets
    .command("import <file>")
    .description("import a CSV, TSV, JSONL or Parquet file as a dataset (validated, with length stats)")
    .requiredOption("--text <col>", "column holding the text")
    .requiredOption("--label <col>", "column holding the label")
    .addOption(
      new Option("--task <task>", "default: regression for a numeric label with more than 2 values").choices([
        "regression",
        "classification",
      ]),
    )
    .option("--name <name>", "dataset name (default: the file name)")
    .option("--pair <col>", "column holding the second text, for pair tasks")
    .option("--id <col>", "column with a unique id per row")
    .option("--group <col>", "column grouping rows (for group k-fold)")
    .option("--max-length <n>", "token budget the length stats compare against", int)
    .option("--json", "print the dataset as JSON")
    .action(async (file: string, o: ImportOptions) => {
      const task = o.task ?? (await guessTask(file, o.label));
      const mapping: ColumnMapping = { text: o.text, label: o.label };
      if (o.pair) mapping.textPair = o.pair;
      if (o.id) mapping.id = o.id;
      if (o.group) mapping.group = o.group;
      await withCore(async (core) => {
        const d = await call(core, "importDataset", {
          path: file,
          name: o.name,
          mapping,
          task,
          maxLength: o.maxLength,
        });
        process.stdout.write(o.json ? `${JSON.stringify(d)}\n` : `${describeDataset(d)}\n`);
      });
    });

  datasets
    .command("list")
    .description("list datasets")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      await withCore(async (core) => {
        const list = await call(core, "listDatasets", {});
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list)}\n`);
          return;
        }
        const rows = list.map((d) => [
          String(d.id),
          d.name,
          d.task,
          String(d.rowCount),
          d.mapping.text,
          d.mapping.label,
          d.createdAt.slice(0, 19),
        ]);
        process.stdout.write(`${formatTable(["id", "name", "task", "rows", "text", "label", "created"], rows)}\n`);
      });
    });

  datasets
    .command("show <id>")
    .description("show a dataset's mapping and stats")
    .option("--json", "print JSON")
    .action(async (id: string, o: { json?: boolean }) => {
      await withCore(async (core) => {
        const d = await call(core, "getDataset", { id: idArg(id, "dataset id") });
        process.stdout.write(o.json ? `${JSON.stringify(d)}\n` : `${describeDataset(d)}\n`);
      });
    });
}
