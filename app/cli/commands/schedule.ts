// ftune schedule: every group's learning rate at every optimizer step of one fold, from the
// engine code that trains, over the engine's real fold plan (folds of an unequal split differ
// in length). The UI's LR preview calls the same.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";

import { loadConfigFile } from "../../core/experiments/config-file.ts";
import type { ExperimentConfig } from "../../core/experiments/config-types.ts";
import { loadExperimentData } from "../../core/experiments/data.ts";
import { planRun } from "../../core/runs/orchestrate.ts";
import { native } from "../../native/addon.ts";
import { EXIT, UserError } from "../errors.ts";
import { int } from "../options.ts";

interface ScheduleOptions {
  steps?: number;
  stepsPerEpoch?: number;
  fold?: number;
  json?: boolean;
}

const fold = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a fold index (0, 1, …), got "${value}"`);
  return n;
};

/** Steps per epoch asked for on the command line, or undefined to take the data's. */
function askedStepsPerEpoch(o: ScheduleOptions, config: ExperimentConfig): number | undefined {
  const epochs = config.train.epochs;
  const usage = (m: string) => new UserError(m, EXIT.usage);
  if (o.fold !== undefined && (o.steps || o.stepsPerEpoch))
    throw usage("--fold takes its steps from the data; drop --steps / --steps-per-epoch, or drop --fold");
  if (o.steps && o.stepsPerEpoch && o.steps !== o.stepsPerEpoch * epochs)
    throw usage(
      `--steps ${o.steps} disagrees with --steps-per-epoch ${o.stepsPerEpoch} × train.epochs ${epochs} = ${o.stepsPerEpoch * epochs}; give one of them`,
    );
  if (o.steps && o.steps % epochs !== 0)
    throw usage(
      `--steps ${o.steps} is not a multiple of train.epochs (${epochs}): a run has steps-per-epoch × epochs optimizer steps; give --steps-per-epoch instead`,
    );
  return o.stepsPerEpoch ?? (o.steps ? o.steps / epochs : undefined);
}

export function registerSchedule(program: Command): void {
  program
    .command("schedule <config>")
    .description("print the LR of every parameter group at every optimizer step of one fold of an experiment")
    .option("--fold <k>", "the fold to show (default: the first that runs); folds of an unequal split differ", fold)
    .option("--steps <n>", "total optimizer steps, instead of the data's (a multiple of train.epochs)", int)
    .option("--steps-per-epoch <n>", "optimizer steps per epoch, instead of the data's", int)
    .option(
      "--json",
      'print { "fold", "total_steps", "folds": [...], "groups": [...], "lr": { group: [lr per step] } }',
    )
    .action(async (path: string, o: ScheduleOptions) => {
      const config = loadConfigFile(path);
      let spe = askedStepsPerEpoch(o, config);
      let numLabels = 1;
      let folds: ReturnType<typeof planRun>["folds"] = [];
      let warnings: string[] = [];
      let shown = 0;
      if (spe === undefined || config.task === "classification") {
        const { data } = await loadExperimentData(config);
        numLabels = data.labels?.length ?? 1;
        if (spe === undefined) {
          const plan = planRun(config, data);
          ({ folds, warnings } = plan);
          const pick = o.fold === undefined ? folds[0] : folds.find((f) => f.fold === o.fold);
          if (!pick)
            throw new UserError(
              `fold ${o.fold} does not run in this experiment (folds that run: ${folds.map((f) => f.fold).join(", ")})`,
              EXIT.usage,
            );
          spe = pick.stepsPerEpoch;
          shown = pick.fold;
        }
      }
      const schedule = native.LrSchedule.create(JSON.stringify(config), spe, numLabels);
      const groups = schedule.groups();
      const curves = schedule.curves();
      const total = schedule.totalSteps;
      const swa = schedule.swaStartStep ?? null;
      if (o.json) {
        const lr = Object.fromEntries(groups.map((g, i) => [g.name, curves[i]]));
        const out = {
          fold: shown,
          total_steps: total,
          steps_per_epoch: spe,
          warmup_steps: schedule.warmupSteps,
          swa_start_step: swa,
          folds: folds.map((f) => ({
            fold: f.fold,
            train_rows: f.trainRows,
            valid_rows: f.validRows,
            steps_per_epoch: f.stepsPerEpoch,
            total_steps: f.totalSteps,
            warmup_steps: f.warmupSteps,
            swa_start_step: f.swaStartStep ?? null,
          })),
          warnings,
          groups: groups.map((g) => ({ name: g.name, lr: g.lr, weight_decay: g.weightDecay, params: g.params })),
          lr,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const marks: [string, number][] = [
        ["step 0", 0],
        [`warm-up end (${schedule.warmupSteps})`, schedule.warmupSteps],
        ...(swa !== null ? ([[`SWA start (${swa})`, swa]] as [string, number][]) : []),
        [`last (${total - 1})`, total - 1],
      ];
      const rows = groups.map((g, i) => [
        g.name,
        g.lr.toExponential(3),
        String(g.weightDecay),
        String(g.params),
        ...marks.map(([, k]) => (curves[i]?.[Math.min(k, total - 1)] ?? 0).toExponential(3)),
      ]);
      const head = ["group", "base lr", "wd", "params", ...marks.map(([m]) => m)];
      const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
      const line = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c] ?? 0)).join("  ");
      const which = folds.length > 0 ? `fold ${shown}: ` : "";
      console.log(
        `${which}${total} optimizer steps (${spe} per epoch × ${config.train.epochs} epochs), ${config.schedule.name} schedule`,
      );
      if (new Set(folds.map((f) => f.totalSteps)).size > 1) {
        const each = folds.map((f) => `fold ${f.fold}: ${f.trainRows} rows, ${f.totalSteps} steps`).join("; ");
        console.log(`folds differ in length (${each}); --fold K shows another`);
      }
      for (const w of warnings.filter((w) => !w.startsWith("folds differ"))) console.log(`warning: ${w}`);
      console.log(line(head));
      for (const r of rows) console.log(line(r));
    });
}
