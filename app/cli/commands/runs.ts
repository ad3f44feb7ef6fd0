// ftune runs list|show|resume|cancel: runs in the data folder (one per experiment fold).
import type { Command } from "commander";
import type { Results } from "../../core/api/contract.ts";
import type { ExperimentConfig } from "../../core/experiments/config-types.ts";
import { metricOf } from "../../core/runs/orchestrate.ts";
import type { Run } from "../../core/store/repo-experiments.ts";
import type { Summary } from "../../engine/training.ts";
import { call, idArg, withCore } from "../core.ts";
import { EXIT, UserError } from "../errors.ts";
import { followRuns } from "../follow.ts";
import { fmt, formatTable } from "../table.ts";

const bestOf = (run: Run) => {
  const s = run.summary as Summary | null;
  return s ? `${s.metric} ${fmt(s.folds[0]?.best_metric)}` : "-";
};

function describeRun(r: Results["getRun"]): string {
  const lines = [
    `run ${r.id}: ${r.experimentName}, fold ${r.fold}, ${r.status}`,
    `  steps:   ${r.stepsDone}${r.totalSteps !== null ? ` of ${r.totalSteps}` : ""}`,
    `  started: ${r.startedAt ?? "-"}   ended: ${r.endedAt ?? "-"}${r.device ? `   device: ${r.device}` : ""}`,
  ];
  const s = r.summary as Summary | null;
  const f = s?.folds[0];
  if (s && f) {
    lines.push(`  best:    ${s.metric} ${fmt(f.best_metric)} at step ${f.best_step} (${f.best_source})`);
    lines.push(`  final:   ${s.metric} ${fmt(f.final_metrics[s.metric])}`);
  }
  for (const c of r.checkpoints) lines.push(`  ${`${c.kind} dir:`.padEnd(11)}${c.path}`);
  if (r.error) lines.push(`  error:   ${r.error}`);
  return lines.join("\n");
}

/** Exit code for how a followed run ended. */
export function runExitCode(run: Run): number {
  if (run.status === "completed") return EXIT.ok;
  if (run.status === "cancelled") return EXIT.cancelled;
  return EXIT.failed;
}

export function registerRuns(program: Command): void {
  const runs = program.command("runs").description("list, inspect, resume and cancel training runs");

  runs
    .command("list")
    .description("list runs, newest first")
    .option("--experiment <id>", "only this experiment's runs")
    .option("--json", "print JSON")
    .action(async (o: { experiment?: string; json?: boolean }) => {
      await withCore(async (core) => {
        const experimentId = o.experiment === undefined ? undefined : idArg(o.experiment, "experiment id");
        const list = await call(core, "listRuns", { experimentId });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list)}\n`);
          return;
        }
        const rows = list.map((r) => [
          String(r.id),
          String(r.experimentId),
          String(r.fold),
          r.status,
          bestOf(r),
          r.createdAt.slice(0, 19),
        ]);
        process.stdout.write(`${formatTable(["id", "experiment", "fold", "status", "best", "created"], rows)}\n`);
      });
    });

  runs
    .command("show <id>")
    .description("show a run: progress, metrics, checkpoints, error")
    .option("--json", "print JSON")
    .action(async (id: string, o: { json?: boolean }) => {
      await withCore(async (core) => {
        const run = await call(core, "getRun", { id: idArg(id, "run id") });
        process.stdout.write(o.json ? `${JSON.stringify(run)}\n` : `${describeRun(run)}\n`);
      });
    });

  runs
    .command("resume <id>")
    .description("continue an interrupted run from its last saved state and wait for it to end")
    .option("--json", "print JSON event lines")
    .action(async (id: string, o: { json?: boolean }) => {
      await withCore(async (core) => {
        const runId = idArg(id, "run id");
        const resumed = await call(core, "resumeRun", { id: runId });
        const experiment = await call(core, "getExperiment", { id: resumed.experimentId });
        const metric = metricOf(experiment.config as ExperimentConfig);
        const [run] = await followRuns(core, [runId], { json: o.json, metric });
        if (!run) return;
        if (o.json) process.stdout.write(`${JSON.stringify({ kind: "run", ...run })}\n`);
        else process.stderr.write(`ftune: run ${run.id} ${run.status}${run.error ? `: ${run.error}` : ""}\n`);
        if (run.status !== "completed") throw new UserError(`run ${run.id} ended ${run.status}`, runExitCode(run));
      });
    });

  runs
    .command("cancel <id>")
    .description("cancel a queued or running run")
    .action(async (id: string) => {
      await withCore(async (core) => {
        const run = await call(core, "cancelRun", { id: idArg(id, "run id") });
        process.stdout.write(
          run.status === "running"
            ? `run ${run.id}: asked the process training it to stop (it does within a step)\n`
            : `run ${run.id}: ${run.status}\n`,
        );
      });
    });
}
