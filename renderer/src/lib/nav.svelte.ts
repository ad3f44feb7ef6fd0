// Which view is open and what it should focus on, so one view can hand over to another
// ("build an experiment on this dataset", "watch these runs") without a router.
import { isView, type ViewId } from "./views.ts";

const fromHash = new URLSearchParams(location.hash.slice(1)).get("view");

export const nav = $state({
  view: (isView(fromHash) ? fromHash : "datasets") as ViewId,
  /** Dataset the builder should start from. */
  datasetId: null as number | null,
  /** Experiment the runs / export views should open. */
  experimentId: null as number | null,
  /** A file dropped anywhere on the window, for the datasets view to open. */
  droppedFile: null as File | null,
  /** Bumped by Ctrl+O / the "Open dataset…" menu: the datasets view opens its file chooser. */
  openFileRequest: 0,
});

export function go(view: ViewId, focus: { datasetId?: number; experimentId?: number } = {}): void {
  if (focus.datasetId !== undefined) nav.datasetId = focus.datasetId;
  if (focus.experimentId !== undefined) nav.experimentId = focus.experimentId;
  nav.view = view;
}
