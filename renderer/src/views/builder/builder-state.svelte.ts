// The builder's state, shared with every field through context: the draft config, the dataset
// it is for, and the engine's verdict on it (every problem at once: each next to its field, the
// others at the top when they name no field the form shows).
import { getContext, setContext } from "svelte";

import type { Keep, SchedulePreview } from "../../../../app/core/api/contract.ts";
import type { Task } from "../../../../app/core/store/types.ts";
import { ApiError, api, messageOf } from "../../lib/api.ts";
import { type Draft, fieldOfError, getPath, merge, setPath } from "../../lib/config.ts";

export class BuilderState {
  /** Empty until the engine's defaults arrive (`start`): no default is restated here. */
  draft = $state<Draft>({});
  ready = $state(false);
  /** The fold the LR preview shows (folds of an unequal split differ in length). */
  fold = $state<number | null>(null);
  datasetId = $state<number | null>(null);
  name = $state("");
  /** Checkpoints each run keeps (undefined: the server's default). */
  keep = $state<Keep | undefined>(undefined);
  /** Field path → the engine's message about it. */
  errors = $state<Record<string, string>>({});
  /** Field path → a problem the field found itself before asking the engine ("not a number"). */
  localErrors = $state<Record<string, string>>({});
  /** A message the form cannot place next to a field. */
  topError = $state<string | null>(null);
  preview = $state.raw<SchedulePreview | null>(null);
  /** The config (and dataset) `preview` was computed for. */
  previewKey = "";
  /** Paths of the fields on screen, so an error goes next to its field when one is shown. */
  readonly fields = new Set<string>();

  /** Loads the engine's defaults for `task`, once. */
  async start(task: Task): Promise<void> {
    if (this.ready) return this.useTask(task);
    const defaults = await api.defaultConfig({ task });
    if (!this.ready) this.draft = defaults;
    this.ready = true;
  }

  /** The dataset's task, with the engine's default metric and loss for it. */
  async useTask(task: Task): Promise<void> {
    if (this.get("task") === task) return;
    const defaults = await api.defaultConfig({ task });
    this.set("task", task);
    this.set("eval.metric", getPath(defaults, "eval.metric"));
    this.set("train.loss", getPath(defaults, "train.loss"));
  }

  get(path: string): unknown {
    return getPath(this.draft, path);
  }

  set(path: string, value: unknown): void {
    setPath(this.draft, path, value);
  }

  applyPreset(config: Draft): void {
    this.draft = merge($state.snapshot(this.draft) as Draft, config);
  }

  /**
   * Shows what the API rejected: each problem it lists next to its field when the form shows
   * that field, the rest at the top. Takes a caught error (or a message).
   */
  showError(error: unknown): void {
    const message = typeof error === "string" ? error : messageOf(error);
    const issues =
      error instanceof ApiError && error.issues.length > 0
        ? error.issues
        : [{ path: fieldOfError(message) ?? "", message }];
    const errors: Record<string, string> = {};
    const top: string[] = [];
    for (const issue of issues) {
      if (issue.path && this.fields.has(issue.path)) errors[issue.path] ??= issue.message;
      else top.push(issue.message);
    }
    this.errors = errors;
    this.topError = top.length > 0 ? top.join("\n") : null;
  }

  /** How many problems are shown (fields and the top message). */
  get problems(): number {
    const fields = new Set([...Object.keys(this.errors), ...Object.keys(this.localErrors)]);
    return fields.size + (this.topError ? this.topError.split("\n").length : 0);
  }

  clearErrors(): void {
    this.errors = {};
    this.topError = null;
  }
}

const KEY = Symbol("builder");

export const provideBuilder = (state: BuilderState): BuilderState => setContext(KEY, state);
export const useBuilder = (): BuilderState => getContext<BuilderState>(KEY);
