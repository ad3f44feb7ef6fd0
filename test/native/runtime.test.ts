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

// The engine's two kernel paths against torch.optim.AdamW with the same kernels, in float64 and
// float32 (the training dtype): the same libtorch kernels on the same inputs give the same bits.
for (const implementation of ["fused", "foreach"] as const) {
  for (const dtype of ["float64", "float32"] as const) {
    test(`AdamW(${implementation}) matches torch.optim.AdamW(${implementation}=True) bit for bit in ${dtype}`, () => {
      const request = {
        param: [0.5, -1.25, 2.0, 0.0, 3e-3, -7.5],
        grads: [
          [0.1, -0.2, 0.3, 1e-4, 0.0, 5.0],
          [0.05, 0.4, -0.1, 0.0, -2e-3, 1.0],
          [-0.3, 0.2, 0.25, 2.0, 1e-5, -3.0],
          [0.7, -0.01, 0.02, -0.5, 0.3, 0.0],
        ],
        lr: 0.01,
        weight_decay: 0.1,
        betas: [0.9, 0.98],
        eps: 1e-6,
        implementation,
        dtype,
      };
      const expected = reference<number[]>("adamw", [], request);
      const ours = native.replayAdamw({
        param: request.param,
        grads: request.grads,
        lr: request.lr,
        weightDecay: request.weight_decay,
        betas: request.betas,
        eps: request.eps,
        implementation,
        dtype,
      });
      assert.deepEqual(ours, expected);
      assert.notDeepEqual(ours, request.param, "the steps moved the weights");
    });
  }
}

test("AdamW without bias correction takes smaller first steps (BERTAdam)", () => {
  const run = (biasCorrection: boolean) =>
    native.replayAdamw({ param: [1], grads: [[1]], lr: 0.1, weightDecay: 0, biasCorrection })[0] ?? Number.NaN;
  assert.ok(Math.abs(run(true) - 0.9) < 1e-6);
  assert.ok(Math.abs(run(false) - (1 - (0.1 * 0.1) / Math.sqrt(0.001))) < 1e-6);
});
