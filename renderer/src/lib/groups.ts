// Chart series for parameter groups. Each layer has a decayed and a "/no_decay" group (biases
// and LayerNorm) with the same learning rate: they share a colour, the second one dashed, so
// the chart reads as one line per layer.
import type { ChartSeries } from "../components/UChart.svelte";

const NO_DECAY = "/no_decay";

export function groupSeries(names: readonly string[]): ChartSeries[] {
  const bases: string[] = [];
  return names.map((label) => {
    const base = label.endsWith(NO_DECAY) ? label.slice(0, -NO_DECAY.length) : label;
    let color = bases.indexOf(base);
    if (color < 0) color = bases.push(base) - 1;
    return { label, color, dashed: label.endsWith(NO_DECAY) };
  });
}
