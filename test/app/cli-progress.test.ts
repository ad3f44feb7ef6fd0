// The CLI's progress on a terminal: folds trained at once (--folds-at-once, Ray) each keep a
// bar of their own, updated by their own events; a fold's bar goes when the fold ends.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";

import { humanProgress, progressBars } from "../../app/cli/progress.ts";
import type { TrainEvent } from "../../app/native/addon.ts";

/** A stream that says it is a terminal, and what was written to it. */
function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 200, rows: 40, cursorTo: () => true, moveCursor: () => true });
  let text = "";
  (stream as unknown as PassThrough).on("data", (d) => {
    text += String(d);
  });
  return { stream, text: () => text };
}

const event = (e: Record<string, unknown>): TrainEvent => ({ epoch: 1, emittedAtMs: 0, ...e }) as unknown as TrainEvent;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what is removed
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");

test("two folds at once: a bar each, each moved by its own fold's steps", async () => {
  const tty = terminal();
  const bars = progressBars(tty.stream);
  assert.ok(bars, "a terminal gets bars");
  const folds = [humanProgress("rmse", bars), humanProgress("rmse", bars)];
  folds[0]?.event(event({ kind: "fold_start", fold: 0, totalSteps: 10 }));
  folds[1]?.event(event({ kind: "fold_start", fold: 1, totalSteps: 20 }));
  folds[0]?.event(event({ kind: "step", fold: 0, step: 5, loss: 0.5 }));
  folds[1]?.event(event({ kind: "step", fold: 1, step: 3, loss: 0.7 }));
  folds[1]?.event(event({ kind: "eval", fold: 1, step: 3, metrics: { rmse: 0.61 }, isBest: true }));
  bars?.update();
  const shown = plain(tty.text());
  assert.match(shown, /fold 0 \[[=-]+\] 50% \| step 5\/10 \| loss 0\.5000/);
  assert.match(shown, /fold 1 \[[=-]+\] 15% \| step 3\/20 \| loss 0\.7000 \| rmse 0\.6100/);

  // Fold 0 ends: its bar goes, fold 1's stays.
  folds[0]?.event(event({ kind: "done", fold: 0, summary: {} }));
  assert.equal((bars as unknown as { bars: unknown[] }).bars.length, 1);
  for (const f of folds) f.stop();
  bars?.stop();
});

test("not a terminal: no bars (each fold prints lines instead)", () => {
  const piped = new PassThrough() as unknown as NodeJS.WriteStream;
  assert.equal(progressBars(piped), undefined);
});
