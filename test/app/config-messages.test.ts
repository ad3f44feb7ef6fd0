// Config messages in plain words: the engine's JSON-parser wording (Rust types, serde's
// "invalid value") is rewritten; the field each message is about is found for the form.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fieldOfMessage, plainConfigMessage } from "../../app/core/experiments/config-messages.ts";

test("parser messages become plain words; the engine's own messages stay as they are", () => {
  const cases: [string, string][] = [
    ["train.epochs: invalid value: integer `-5`, expected usize", "train.epochs cannot be negative, got -5"],
    [
      "train.batch_size: invalid type: floating point `1.5`, expected usize",
      "train.batch_size must be a whole number (0 or more), got 1.5",
    ],
    ['optimizer.lr: invalid type: string "abc", expected f64', 'optimizer.lr must be a number, got "abc"'],
    ["train.shuffle: invalid type: integer `3`, expected a boolean", "train.shuffle must be true or false, got 3"],
    [
      "schedule.name: unknown variant `cosin`, expected one of `linear`, `cosine`, `constant`",
      'schedule.name must be one of linear, cosine, constant; "cosin" is not one of them',
    ],
    [
      "train.epochz: unknown field `epochz`, expected one of `epochs`, `batch_size`",
      'train: "epochz" is not a setting here (the settings are epochs, batch_size)',
    ],
    [
      "config: unknown field `modle`, expected one of `model`, `task`",
      '"modle" is not a setting here (the settings are model, task)',
    ],
    ["llrd: missing field `top_lr`", "llrd.top_lr is required"],
    ["llrd.decay must be in (0, 1], got 1.5", "llrd.decay must be in (0, 1], got 1.5"],
    ["schedule: give warmup_steps or warmup_ratio, not both", "schedule: give warmup_steps or warmup_ratio, not both"],
  ];
  for (const [engine, plain] of cases) assert.equal(plainConfigMessage(engine), plain);
});

test("the field a message is about, as the form names it", () => {
  assert.equal(fieldOfMessage("llrd.decay must be in (0, 1], got 1.5"), "llrd.decay");
  assert.equal(fieldOfMessage("llrd.groups[1].lr must be positive"), "llrd.groups.1.lr");
  assert.equal(fieldOfMessage("train.epochs cannot be negative, got -5"), "train.epochs");
  assert.equal(fieldOfMessage("encoder_dropout must be in [0, 1), got 2"), "encoder_dropout");
  assert.equal(fieldOfMessage("schedule: give warmup_steps or warmup_ratio, not both"), null);
});
