// ftune sweep SWEEP.yaml: a search over config fields on Ray Tune (Optuna's TPE sampler, the
// ASHA scheduler on the engine's evaluations); every trial is stored as an experiment (Compare
// shows them), the best config is written as YAML. Rerunning with the same --out resumes.
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import { foldJobBinary, venvPython } from "../../../scripts/env.mjs";
import { loadExperimentData } from "../../core/experiments/data.ts";
import { RayError } from "../../core/runs/ray/bridge.ts";
import { loadSweep, runSweep, storedSpec } from "../../core/runs/ray/sweep.ts";
import { sweepForFolder } from "../../core/store/repo-sweeps.ts";
import { ensureRayBackend } from "../backend.ts";
import { withCore } from "../core.ts";
import { UserError } from "../errors.ts";

export function registerSweep(program: Command): void {
  program
    .command("sweep <sweep>")
    .description(
      "search config fields on Ray Tune (TPE + ASHA): every trial stored as an experiment, the best config in DIR/best.yaml",
    )
    .option("--out <dir>", "output folder; rerunning with the same folder resumes", "runs/sweep")
    .option("--ray-address <address>", "an existing Ray cluster; without it a local Ray runs for this command")
    .action(async (path: string, o: { out: string; rayAddress?: string }) => {
      const { spec, base } = loadSweep(path);
      ensureRayBackend();
      const out = resolve(o.out);
      const name = basename(path).replace(/\.\w+$/, "");
      const result = await withCore(async (core) => {
        // The same --out is the same sweep: its row in the store, its trials, Tune's state.
        const sweep = await sweepForFolder(core.store, { name, spec: storedSpec(spec, base), outDir: out });
        try {
          return await runSweep(core, {
            sweepId: sweep.id,
            name,
            spec,
            base,
            data: (await loadExperimentData(base)).data,
            outDir: out,
            python: venvPython,
            binary: foldJobBinary(),
            address: o.rayAddress ?? process.env.FTUNE_RAY_ADDRESS,
            onTrial: (t) => {
              if (t.ended === "stopped")
                process.stderr.write(
                  `ftune: trial ${t.key} stopped early by ASHA after ${t.evaluations} evaluation(s)\n`,
                );
              else if (t.ended) process.stderr.write(`ftune: trial ${t.key} ${t.ended}\n`);
              else if (!t.event) process.stderr.write(`ftune: trial ${t.key} started: ${JSON.stringify(t.params)}\n`);
            },
          });
        } catch (err) {
          throw err instanceof RayError ? new UserError(`Ray backend: ${err.message}`) : err;
        }
      });
      for (const t of result.trials) {
        const m = t.metric === null ? "n/a" : t.metric.toFixed(4);
        process.stdout.write(
          `${t.key}  ${t.status.padEnd(9)} ${String(t.evaluations).padStart(3)} eval(s)  ${m}  ${JSON.stringify(t.params)}  (experiment ${t.experimentId})\n`,
        );
      }
      process.stderr.write(
        `ftune: best trial ${result.best.key}: ${JSON.stringify(result.best.params)}; config in ${result.best.configPath} (train it with ftune train ${result.best.configPath})\n`,
      );
    });
}
