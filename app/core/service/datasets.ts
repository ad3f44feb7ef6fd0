// Dataset handlers: column detection, import (with token-length stats from a model's
// tokenizer), browsing and deletion.

import { resolve, sep } from "node:path";
import type { ColumnDetectionResult, ParsedInput, Results } from "../api/contract.ts";

import { detectColumns, importDataset } from "../datasets/index.ts";
import { rememberDataset } from "../settings.ts";
import { countDatasetRows, deleteDataset, getDatasetRows, listDatasets } from "../store/repo-datasets.ts";
import { type Context, datasetOr404 } from "./context.ts";

export async function detect(input: ParsedInput<"detectColumns">): Promise<ColumnDetectionResult> {
  const d = await detectColumns(input.path);
  const names = d.columns.map((c) => c.name);
  return {
    format: d.format,
    columns: d.columns,
    preview: d.preview.map((r) => Object.fromEntries(names.map((n, i) => [n, r.cells[i] ?? null]))),
    suggested: d.suggested,
  };
}

export function datasetHandlers(ctx: Context) {
  return {
    detectColumns: detect,

    async importDataset(input: ParsedInput<"importDataset">): Promise<Results["importDataset"]> {
      const model = input.modelId !== undefined ? await ctx.models.get(input.modelId) : await ctx.models.defaultModel();
      const dataset = await importDataset(ctx.store, {
        path: input.path,
        name: input.name,
        mapping: input.mapping,
        task: input.task,
        maxLength: input.maxLength,
        tokenLengths: model ? ctx.models.tokenLengths(model.path) : undefined,
      });
      // A file of the user's (not a browser upload kept in the data folder) is a recent dataset.
      if (!resolve(input.path).startsWith(resolve(ctx.dataDir) + sep))
        rememberDataset(resolve(input.path), ctx.dataDir);
      ctx.events.publish({ type: "dataset-imported", dataset });
      return dataset;
    },

    listDatasets: async (): Promise<Results["listDatasets"]> => listDatasets(ctx.store),

    async getDataset(input: ParsedInput<"getDataset">): Promise<Results["getDataset"]> {
      return datasetOr404(ctx.store, input.id);
    },

    async datasetRows(input: ParsedInput<"datasetRows">): Promise<Results["datasetRows"]> {
      await datasetOr404(ctx.store, input.id);
      const rows = await getDatasetRows(ctx.store, input.id, { offset: input.offset, limit: input.limit });
      return { rows, total: await countDatasetRows(ctx.store, input.id) };
    },

    async deleteDataset(input: ParsedInput<"deleteDataset">): Promise<Results["deleteDataset"]> {
      return { deleted: await deleteDataset(ctx.store, input.id) };
    },
  };
}
