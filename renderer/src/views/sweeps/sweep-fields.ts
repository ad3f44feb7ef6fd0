// The config fields a sweep usually searches, with a sensible kind and range each, offered
// where the base experiment uses the technique (LLRD decay needs layer-wise LLRD, SWA fields
// need SWA); the engine checks every corner of the space when the sweep starts.
import type { ExperimentConfig } from "../../../../app/core/experiments/config-types.ts";

export type Kind = "loguniform" | "uniform" | "int";

export interface SearchField {
  path: string;
  label: string;
  kind: Kind;
  low: number;
  high: number;
  /** Why the base experiment cannot search it (null: it can). */
  unavailable: string | null;
}

export function searchFields(config: ExperimentConfig): SearchField[] {
  const layerwise = config.llrd !== null && config.llrd.mode === "layerwise";
  const swa = config.swa;
  const swaStart: SearchField =
    swa && swa.start_step !== null
      ? { path: "swa.start_step", label: "SWA start (step)", kind: "int", low: 1, high: 10, unavailable: null }
      : {
          path: "swa.start_epoch",
          label: "SWA start (epoch)",
          kind: "int",
          low: 1,
          high: Math.max(2, config.train.epochs - 1),
          unavailable: null,
        };
  return [
    { path: "optimizer.lr", label: "Learning rate", kind: "loguniform", low: 1e-5, high: 1e-3, unavailable: null },
    {
      path: "llrd.decay",
      label: "LLRD decay",
      kind: "uniform",
      low: 0.7,
      high: 0.99,
      unavailable: layerwise ? null : "the experiment has no layer-wise LLRD",
    },
    { path: "reinit.top_layers", label: "Re-init top layers", kind: "int", low: 0, high: 2, unavailable: null },
    {
      path: "swa.lr",
      label: "SWA learning rate",
      kind: "loguniform",
      low: 1e-5,
      high: 1e-3,
      unavailable: swa ? null : "the experiment has no SWA",
    },
    { ...swaStart, unavailable: swa ? null : "the experiment has no SWA" },
  ];
}

/** The metrics the engine reports for a task. */
export const metricsFor = (task: ExperimentConfig["task"]): string[] =>
  task === "classification" ? ["accuracy", "macro_f1", "log_loss"] : ["rmse", "mae", "r2", "pearson"];
