// ftune ablate: the article's ablation (basic, each technique, all) over the same folds;
// writes results.md, results.json and chart.svg, resuming where a previous run stopped.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import {
  ABLATION_MODES,
  type AblationMode,
  loadAblation,
  resultsMarkdown,
  runAblation,
  writeAblationPlan,
} from "../../core/experiments/ablation.ts";
import { addBackendOptions, type BackendOptions, backendCoreOptions } from "../backend.ts";
import { withCore } from "../core.ts";
import { EXIT, UserError } from "../errors.ts";
import { trainWithProgress } from "./train.ts";

export function registerAblate(program: Command): void {
  const cmd = program
    .command("ablate <config>")
    .description("run an ablation (a base config and named variants) and print the results table")
    .option("--out <dir>", "output folder; rerunning with the same folder resumes", "runs/ablation")
    .option("--json", "print JSON event lines")
    .option(
      "--mode <mode>",
      "cumulative (each row adds to the one above, as the article's table) or one-at-a-time (each row adds to the base); default: the file's mode, else one-at-a-time",
    )
    .option("--report", "run nothing: write the table and chart from the results already in --out")
    .option("--plan <dir>", "write the ablation as a plan for the engine's ablate_plan binary instead of running it");
  addBackendOptions(cmd).action(
    async (
      path: string,
      o: { out: string; json?: boolean; plan?: string; report?: boolean; mode?: string } & BackendOptions,
    ) => {
      if (o.mode !== undefined && !ABLATION_MODES.includes(o.mode as AblationMode)) {
        throw new UserError(`--mode must be one of ${ABLATION_MODES.join(", ")}, got "${o.mode}"`, EXIT.usage);
      }
      const mode = o.mode as AblationMode | undefined;
      if (o.plan) {
        const model = await writeAblationPlan(path, resolve(o.plan), mode);
        process.stderr.write(
          `ftune: plan in ${resolve(o.plan)}/plan.json; put the model folder (${model}) there as model/\n`,
        );
        return;
      }
      const out = resolve(o.out);
      if (o.report && !existsSync(join(out, "results.json"))) {
        throw new UserError(
          `--report needs results: ${join(out, "results.json")} does not exist. Run the ablation into --out first, or copy ablate_plan's results.json there.`,
          EXIT.usage,
        );
      }
      const title = basename(path).replace(/\.\w+$/, "");
      const results = await withCore(
        (core) =>
          runAblation(
            path,
            out,
            async (name, config, dir) => {
              if (!o.json) process.stderr.write(`\n== ${name}\n`);
              const row = { name: `${title}: ${name}`, config, outDir: dir, json: o.json };
              return (await trainWithProgress(core, row)).summary;
            },
            { reportOnly: o.report, mode },
          ),
        o.report ? {} : backendCoreOptions(o),
      );
      process.stdout.write(`${resultsMarkdown(results, loadAblation(path, mode).mode)}\n`);
      process.stderr.write(`ftune: results in ${out}/results.md, results.json and chart.svg\n`);
    },
  );
}
