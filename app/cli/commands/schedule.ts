// ftune schedule: every group's learning rate at every optimizer step, from the engine code
// that trains (the UI's LR preview calls the same).
import type { Command } from "commander";

import { loadConfigFile } from "../../core/experiments/config-file.ts";
import { classNames, readLabelledFile } from "../../core/experiments/data.ts";
import { foldTrainRows, stepsPerEpoch } from "../../core/experiments/steps.ts";
import { native } from "../../native/addon.ts";
import { int } from "../options.ts";

interface ScheduleOptions {
  steps?: number;
  stepsPerEpoch?: number;
  json?: boolean;
}

export function registerSchedule(program: Command): void {
  program
    .command("schedule <config>")
    .description("print the LR of every parameter group at every optimizer step of an experiment")
    .option("--steps <n>", "total optimizer steps of the run (default: from the data)", int)
    .option("--steps-per-epoch <n>", "optimizer steps per epoch (default: from the data)", int)
    .option("--json", 'print { "groups": [...], "lr": { group: [lr at step 0, 1, ...] } }')
    .action(async (path: string, o: ScheduleOptions) => {
      const config = loadConfigFile(path);
      let spe = o.stepsPerEpoch ?? (o.steps ? Math.ceil(o.steps / config.train.epochs) : undefined);
      let numLabels = 1;
      if (spe === undefined || config.task === "classification") {
        const d = config.data;
        const rows = await readLabelledFile(d.train, { text: d.text, label: d.label }, config.task);
        numLabels = config.task === "classification" ? classNames(rows.map((r) => r.label)).length : 1;
        spe ??= stepsPerEpoch(foldTrainRows(rows.length, config), config);
      }
      const schedule = native.LrSchedule.create(JSON.stringify(config), spe, numLabels);
      const groups = schedule.groups();
      const curves = schedule.curves();
      if (o.json) {
        const lr = Object.fromEntries(groups.map((g, i) => [g.name, curves[i]]));
        const out = {
          groups: groups.map((g) => ({ name: g.name, lr: g.lr, weight_decay: g.weightDecay, params: g.params })),
          lr,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const total = schedule.totalSteps;
      const swa = schedule.swaStartStep;
      const marks: [string, number][] = [
        ["step 0", 0],
        [`warm-up end (${schedule.warmupSteps})`, schedule.warmupSteps],
        ...(swa !== null && swa !== undefined ? ([[`SWA start (${swa})`, swa]] as [string, number][]) : []),
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
      console.log(
        `${total} optimizer steps (${spe} per epoch × ${config.train.epochs} epochs), ${config.schedule.name} schedule`,
      );
      console.log(line(head));
      for (const r of rows) console.log(line(r));
    });
}
