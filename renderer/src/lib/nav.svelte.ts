// Which view is open and what it should focus on, so one view can hand over to another
// ("build an experiment on this dataset", "watch these runs"). The open view (and in the runs
// view the experiment and run) live in the address's hash, `#view=runs&experiment=3&run=7`:
// each change is a history entry, so Back and Forward move between views inside the app.
import { isView, type ViewId } from "./views.ts";

interface Route {
  view: ViewId;
  experimentId: number | null;
  runId: number | null;
}

const id = (v: string | null) => (v !== null && /^\d+$/.test(v) ? Number(v) : null);

export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const view = params.get("view");
  return {
    view: isView(view) ? view : "datasets",
    experimentId: id(params.get("experiment")),
    runId: id(params.get("run")),
  };
}

/** The hash of a route (the run and experiment only where the view shows them). */
export function routeHash(route: Route): string {
  const params = new URLSearchParams({ view: route.view });
  if (route.view === "runs" || route.view === "export") {
    if (route.experimentId !== null) params.set("experiment", String(route.experimentId));
    if (route.view === "runs" && route.runId !== null) params.set("run", String(route.runId));
  }
  return `#${params}`;
}

const start = parseRoute(location.hash);

export const nav = $state({
  view: start.view,
  /** Dataset the builder should start from. */
  datasetId: null as number | null,
  /** Experiment the runs / export views show. */
  experimentId: start.experimentId,
  /** The run (fold) the runs view shows. */
  runId: start.runId,
  /** The sweep the sweeps view shows, and Compare's filter (null: every experiment). */
  sweepId: null as number | null,
  /** A file dropped anywhere on the window, for the datasets view to open. */
  droppedFile: null as File | null,
  /** Bumped by Ctrl+O / the "Open dataset…" menu: the datasets view opens its file chooser. */
  openFileRequest: 0,
  /** A data file to open in the datasets view (File › Open Recent). */
  openPath: null as string | null,
});

export function go(view: ViewId, focus: { datasetId?: number; experimentId?: number } = {}): void {
  if (focus.datasetId !== undefined) nav.datasetId = focus.datasetId;
  if (focus.experimentId !== undefined) {
    nav.experimentId = focus.experimentId;
    nav.runId = null;
  }
  nav.view = view;
}

/**
 * Whether going from `a` to `b` is a new place (a history entry) rather than the same place
 * made more precise (a view choosing its first experiment or run by itself).
 */
export function isNewPlace(a: Route, b: Route): boolean {
  const changed = (x: number | null, y: number | null) => x !== null && y !== null && x !== y;
  return a.view !== b.view || changed(a.experimentId, b.experimentId) || changed(a.runId, b.runId);
}

let first = true;

/** Writes the route into the address (call from an effect): a new history entry per new place. */
export function syncHash(): void {
  const route = { view: nav.view, experimentId: nav.experimentId, runId: nav.runId };
  const hash = routeHash(route);
  if (hash === location.hash) return;
  const url = `${location.pathname}${location.search}${hash}`;
  if (!first && isNewPlace(parseRoute(location.hash), route)) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  first = false;
}

/** Back / Forward (or an edited address): the route in the hash becomes the open view. */
export function followHash(): void {
  const route = parseRoute(location.hash);
  nav.view = route.view;
  nav.experimentId = route.experimentId ?? nav.experimentId;
  nav.runId = route.runId;
}
