import assert from "node:assert/strict";
import { test } from "node:test";

import { native } from "../../app/native/addon.ts";
import { reference } from "../helpers/python.ts";

test("the addon runs on libtorch 2.11.0 and reports CUDA consistently", () => {
  const info = native.runtimeInfo();
  assert.match(info.torchVersion, /^2\.11\.0/);
  assert.ok(info.threads >= 1);
  assert.equal(info.cudaAvailable, info.cudaDeviceCount > 0);
});

test("AdamW matches torch.optim.AdamW step for step", () => {
  const request = {
    param: [0.5, -1.25, 2.0, 0.0],
    grads: [
      [0.1, -0.2, 0.3, 1e-4],
      [0.05, 0.4, -0.1, 0.0],
      [-0.3, 0.2, 0.25, 2.0],
    ],
    lr: 0.01,
    weight_decay: 0.1,
    betas: [0.9, 0.98],
    eps: 1e-6,
  };
  const expected = reference<number[]>("adamw", [], request);
  const ours = native.replayAdamw({
    param: request.param,
    grads: request.grads,
    lr: request.lr,
    weightDecay: request.weight_decay,
    betas: request.betas,
    eps: request.eps,
  });
  ours.forEach((v, i) => {
    assert.ok(Math.abs(v - (expected[i] ?? Number.NaN)) < 1e-12, `param ${i}: ${v} vs ${expected[i]}`);
  });
});

test("AdamW without bias correction takes smaller first steps (BERTAdam)", () => {
  const run = (biasCorrection: boolean) =>
    native.replayAdamw({ param: [1], grads: [[1]], lr: 0.1, weightDecay: 0, biasCorrection })[0] ?? Number.NaN;
  assert.ok(Math.abs(run(true) - 0.9) < 1e-6);
  assert.ok(Math.abs(run(false) - (1 - (0.1 * 0.1) / Math.sqrt(0.001))) < 1e-6);
});
