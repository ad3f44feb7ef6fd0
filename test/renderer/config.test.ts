// The builder's config helpers: preset merging (nested merge, mode switches replace, exclusive
// settings cleared) and placing an engine message next to its field.
import assert from "node:assert/strict";
import { test } from "node:test";

import { native } from "../../app/native/addon.ts";
import { type Draft, fieldOfError, getPath, merge, setPath, techniques } from "../../renderer/src/lib/config.ts";

/** The builder's starting draft: the engine's defaults (what the defaultConfig API returns). */
const baseDraft = (): Draft => JSON.parse(native.defaultConfig("regression"));

test("the builder starts from the engine's defaults: cls pooling, the task's metric and loss", () => {
  const d = baseDraft();
  assert.equal(getPath(d, "head.pooling"), "cls");
  assert.equal(getPath(d, "eval.metric"), "rmse");
  assert.equal(getPath(d, "train.loss"), "mse");
  const c: Draft = JSON.parse(native.defaultConfig("classification"));
  assert.deepEqual([getPath(c, "eval.metric"), getPath(c, "train.loss")], ["accuracy", "cross_entropy"]);
});

test("a preset merges into nested sections and leaves the rest alone", () => {
  const base = baseDraft();
  const out = merge(base, {
    train: { epochs: 5 },
    llrd: { mode: "layerwise", top_lr: 5e-5, decay: 0.9, head_lr: 1e-3 },
  });
  assert.equal(getPath(out, "train.epochs"), 5);
  assert.equal(getPath(out, "train.batch_size"), 8, "siblings kept");
  assert.equal(getPath(out, "llrd.decay"), 0.9, "a null section becomes the preset's");
  assert.equal(getPath(base, "train.epochs"), 3, "the base is not changed");
});

test("switching LLRD mode replaces the section instead of mixing both modes' keys", () => {
  const layerwise = merge(baseDraft(), { llrd: { mode: "layerwise", top_lr: 5e-5, decay: 0.9, head_lr: 1e-3 } });
  const grouped = merge(layerwise, { llrd: { mode: "grouped", head_lr: 1e-3, groups: [{ layers: "0-2", lr: 1e-5 }] } });
  assert.deepEqual(Object.keys(grouped.llrd as object).sort(), ["groups", "head_lr", "mode"]);
  assert.equal(merge(grouped, { llrd: null }).llrd, null, "null turns a technique off");
});

test("setting warm-up steps clears a ratio (and SWA step clears epoch): the engine allows one", () => {
  const ratio = merge(baseDraft(), { schedule: { warmup_ratio: 0.1 } });
  const steps = merge(ratio, { schedule: { warmup_steps: 30 } });
  assert.equal(getPath(steps, "schedule.warmup_ratio"), null);
  assert.equal(getPath(steps, "schedule.warmup_steps"), 30);
  const swa = merge(merge(baseDraft(), { swa: { start_epoch: 3, lr: 2e-5 } }), { swa: { start_step: 100 } });
  assert.equal(getPath(swa, "swa.start_epoch"), null);
  assert.equal(getPath(swa, "swa.lr"), 2e-5);
});

test("paths read and write arrays and create missing sections", () => {
  const d = baseDraft();
  setPath(d, "optimizer.betas.1", 0.98);
  assert.deepEqual(getPath(d, "optimizer.betas"), [0.9, 0.98]);
  setPath(d, "swa.lr", 1e-5);
  assert.deepEqual(d.swa, { lr: 1e-5 });
  assert.equal(getPath(d, "llrd.decay"), undefined);
});

test("engine messages map to the field they name", () => {
  assert.equal(fieldOfError("llrd.decay must be in (0, 1], got 1.5"), "llrd.decay");
  assert.equal(fieldOfError("schedule.name: unknown variant `step`, expected one of ..."), "schedule.name");
  assert.equal(fieldOfError("llrd.groups[1].lr must be positive"), "llrd.groups.1.lr");
  assert.equal(fieldOfError("swa.start_epoch must be between 1 and train.epochs (3), got 4"), "swa.start_epoch");
  assert.equal(fieldOfError("encoder_dropout must be in [0, 1), got 2"), "encoder_dropout");
  assert.equal(fieldOfError("config: expected a mapping of settings"), null);
  assert.equal(fieldOfError("The bundled encoder is not installed yet"), null);
});

test("the techniques a draft turns on, as the results table names them", () => {
  assert.deepEqual(techniques(baseDraft()), []);
  const all = merge(baseDraft(), {
    llrd: { mode: "layerwise", top_lr: 5e-5, decay: 0.9, head_lr: 1e-3 },
    schedule: { warmup_ratio: 0.06 },
    reinit: { top_layers: 1 },
    swa: { start_epoch: 3, lr: 2e-5 },
    eval: { every_steps: 40 },
  });
  assert.deepEqual(techniques(all), ["LLRD", "Warm-up", "Re-init", "SWA", "Frequent eval"]);
});
