// The app's views, in menu order; Ctrl/Cmd+1…7 open them (the desktop menu uses the same list).
export const VIEWS = [
  { id: "datasets", label: "Datasets" },
  { id: "models", label: "Models" },
  { id: "builder", label: "Experiment builder" },
  { id: "runs", label: "Runs" },
  { id: "compare", label: "Compare" },
  { id: "export", label: "Export" },
  { id: "sweeps", label: "Sweeps" },
] as const;

export type ViewId = (typeof VIEWS)[number]["id"];

export const isView = (value: unknown): value is ViewId => VIEWS.some((v) => v.id === value);
