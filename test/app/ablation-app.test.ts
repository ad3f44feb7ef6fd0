// The article's ablation from a dataset in one click (the app's startAblation): every row
// built on the one above (or on Basic alone), every row's folds queued, names saying which.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import type { Core } from "../../app/core/service/index.ts";
import { api, scratchHome, testCore, tinyConfig, tinyDataset } from "./helpers.ts";

const home = scratchHome("ablation-app");
let core: Core;
before(async () => {
  core = await testCore(home.dir);
});
after(async () => {
  await core.close();
  home.cleanup();
});

test("cumulative: seven rows, each adding to the row above, all folds queued", async () => {
  const dataset = await tinyDataset(core, 24);
  const { experiments, runs } = await api(core, "startAblation", {
    datasetId: dataset.id,
    mode: "cumulative",
    base: tinyConfig({ train: { epochs: 3, batch_size: 4, device: "cpu" } }),
  });
  // Nothing here needs them trained: stop the queue.
  await Promise.all(runs.map((r) => core.runs.cancel(r.id).catch(() => {})));
  assert.deepEqual(
    experiments.map((e) => e.name.replace("Ablation (cumulative): ", "")),
    ["Basic", "+ LLRD", "+ warm-up", "+ re-init", "+ SWA", "+ frequent evaluation", "grouped LLRD instead of LLRD"],
  );
  assert.equal(runs.length, 7 * 2);
  const configs = experiments.map((e) => e.config as Record<string, Record<string, unknown> | null>);
  assert.equal(configs[0]?.llrd, null);
  assert.equal(configs[1]?.llrd?.mode, "layerwise");
  assert.ok(configs[4]?.swa && configs[4]?.llrd && (configs[4]?.reinit?.top_layers as number) > 0);
  assert.equal(configs[5]?.swa !== null && configs[5]?.eval?.every_steps !== null, true);
  assert.equal(configs[6]?.llrd?.mode, "grouped", "grouped replaces layer-wise LLRD");
  assert.ok(configs[6]?.swa, "and keeps every technique above it");
  const grouped = configs[6]?.llrd as { groups: { layers: string }[] } | undefined;
  const groups = grouped?.groups.map((g) => g.layers);
  assert.deepEqual(groups, ["0-0", "1-1", "2-2"], "sized for the 3-layer model the rows train");
});

test("one at a time: each technique over Basic alone", async () => {
  const dataset = await tinyDataset(core, 24);
  const { experiments, runs } = await api(core, "startAblation", {
    datasetId: dataset.id,
    mode: "one-at-a-time",
    base: tinyConfig({ train: { epochs: 3, batch_size: 4, device: "cpu" } }),
  });
  await Promise.all(runs.map((r) => core.runs.cancel(r.id).catch(() => {})));
  const swa = experiments.find((e) => e.name.endsWith("+ SWA"))?.config as Record<string, unknown>;
  assert.ok(swa.swa);
  assert.equal(swa.llrd, null, "+ SWA alone");
});
