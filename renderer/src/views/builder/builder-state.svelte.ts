// The builder's state, shared with every field through context: the draft config, the dataset
// it is for, and the engine's verdict on it (errors keyed by field path, or one at the top when
// the message names no field the form shows).
import { getContext, setContext } from "svelte";

import type { SchedulePreview } from "../../../../app/core/api/contract.ts";
import { baseDraft, type Draft, fieldOfError, getPath, merge, setPath } from "../../lib/config.ts";

export class BuilderState {
  draft = $state<Draft>(baseDraft());
  datasetId = $state<number | null>(null);
  name = $state("");
  /** Field path → the engine's message about it. */
  errors = $state<Record<string, string>>({});
  /** A message the form cannot place next to a field. */
  topError = $state<string | null>(null);
  preview = $state.raw<SchedulePreview | null>(null);
  /** The config (and dataset) `preview` was computed for. */
  previewKey = "";
  /** Paths of the fields on screen, so an error goes next to its field when one is shown. */
  readonly fields = new Set<string>();

  get(path: string): unknown {
    return getPath(this.draft, path);
  }

  set(path: string, value: unknown): void {
    setPath(this.draft, path, value);
  }

  applyPreset(config: Draft): void {
    this.draft = merge($state.snapshot(this.draft) as Draft, config);
  }

  /** Shows an engine error next to its field, or at the top. */
  showError(message: string): void {
    const field = fieldOfError(message);
    if (field && this.fields.has(field)) {
      this.errors = { [field]: message };
      this.topError = null;
    } else {
      this.errors = {};
      this.topError = message;
    }
  }

  clearErrors(): void {
    this.errors = {};
    this.topError = null;
  }
}

const KEY = Symbol("builder");

export const provideBuilder = (state: BuilderState): BuilderState => setContext(KEY, state);
export const useBuilder = (): BuilderState => getContext<BuilderState>(KEY);
