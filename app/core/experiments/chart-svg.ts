// A small horizontal bar chart with error bars, as a standalone SVG file (no browser needed),
// for the ablation's metric per experiment.
export interface Bar {
  label: string;
  value: number;
  error: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function barChartSvg(bars: Bar[], title: string): string {
  const rowH = 28;
  const left = 200;
  const width = 720;
  const plotW = width - left - 80;
  const height = 60 + bars.length * rowH + 30;
  const finite = bars.filter((b) => Number.isFinite(b.value));
  const lo = Math.min(...finite.map((b) => b.value - b.error));
  const hi = Math.max(...finite.map((b) => b.value + b.error));
  const min = Math.max(0, lo - (hi - lo) * 0.5);
  const max = hi + (hi - lo) * 0.1 || min + 1;
  const x = (v: number) => left + ((v - min) / (max - min)) * plotW;
  const rows = bars.map((b, i) => {
    const y = 50 + i * rowH;
    if (!Number.isFinite(b.value)) return `<text x="${left}" y="${y + 17}" font-size="12">n/a</text>`;
    return [
      `<text x="${left - 8}" y="${y + 17}" font-size="13" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${Math.max(1, x(b.value) - left)}" height="${rowH - 10}" fill="#4c78a8"/>`,
      `<line x1="${x(b.value - b.error)}" x2="${x(b.value + b.error)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222" stroke-width="1.5"/>`,
      `<text x="${x(b.value + b.error) + 6}" y="${y + 17}" font-size="12">${b.value.toFixed(4)}</text>`,
    ].join("");
  });
  const axisY = 50 + bars.length * rowH + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="24" font-size="15" text-anchor="middle">${esc(title)}</text>
${rows.join("\n")}
<line x1="${left}" x2="${left + plotW}" y1="${axisY}" y2="${axisY}" stroke="#888"/>
<text x="${left}" y="${axisY + 16}" font-size="11">${min.toFixed(3)}</text>
<text x="${left + plotW}" y="${axisY + 16}" font-size="11" text-anchor="end">${max.toFixed(3)}</text>
</svg>
`;
}
