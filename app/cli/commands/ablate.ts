// ftune ablate: the article's ablation (basic, each technique, all) over the same folds;
// writes results.md, results.json and chart.svg, resuming where a previous run stopped.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { resultsMarkdown, runAblation, writeAblationPlan } from "../../core/experiments/ablation.ts";
import { withCore } from "../core.ts";
import { EXIT, UserError } from "../errors.ts";
import { trainWithProgress } from "./train.ts";

export function registerAblate(program: Command): void {
  program
    .command("ablate <config>")
    .description("run an ablation (a base config and named variants) and print the results table")
    .option("--out <dir>", "output folder; rerunning with the same folder resumes", "runs/ablation")
    .option("--json", "print JSON event lines")
    .option("--report", "run nothing: write the table and chart from the results already in --out")
    .option("--plan <dir>", "write the ablation as a plan for the engine's ablate_plan binary instead of running it")
    .action(async (path: string, o: { out: string; json?: boolean; plan?: string; report?: boolean }) => {
      if (o.plan) {
        const model = await writeAblationPlan(path, resolve(o.plan));
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
      const results = await withCore((core) =>
        runAblation(
          path,
          out,
          async (name, config, dir) => {
            if (!o.json) process.stderr.write(`\n== ${name}\n`);
            const row = { name: `${title}: ${name}`, config, outDir: dir, json: o.json };
            return (await trainWithProgress(core, row)).summary;
          },
          { reportOnly: o.report },
        ),
      );
      process.stdout.write(`${resultsMarkdown(results)}\n`);
      process.stderr.write(`ftune: results in ${out}/results.md, results.json and chart.svg\n`);
    });
}
