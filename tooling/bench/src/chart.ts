import type { BenchReport, Summary } from "./report.ts";

const colours: Record<string, string> = {
  direct: "#8c8c8c",
  floor: "#4c78a8",
  osm: "#e45756",
  portkey: "#72b7b2",
};
const panelW = 300;
const panelH = 220;
const pad = { top: 40, bottom: 40, left: 50, right: 10 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** One panel per (kind, connections): p50 as a solid bar, p99 as a pale bar behind it. */
function panel(group: Summary[], x0: number, title: string): string {
  const top = Math.max(...group.map((s) => s.p99Ms), 0.001);
  const plotH = panelH - pad.top - pad.bottom;
  const slot = (panelW - pad.left - pad.right) / group.length;
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  const parts = [
    `<text x="${x0 + panelW / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${x0 + pad.left}" y1="${pad.top + plotH}" x2="${x0 + panelW - pad.right}" y2="${pad.top + plotH}" stroke="#333"/>`,
    `<text x="${x0 + pad.left - 4}" y="${pad.top + 4}" text-anchor="end" font-size="10">${top.toFixed(top >= 10 ? 0 : 2)} ms</text>`,
    `<text x="${x0 + pad.left - 4}" y="${pad.top + plotH}" text-anchor="end" font-size="10">0</text>`,
  ];
  group.forEach((s, i) => {
    const cx = x0 + pad.left + slot * i + slot / 2;
    const w = Math.min(40, slot * 0.6);
    const colour = colours[s.target] ?? "#444";
    parts.push(
      `<rect x="${cx - w / 2}" y="${y(s.p99Ms)}" width="${w}" height="${pad.top + plotH - y(s.p99Ms)}" fill="${colour}" opacity="0.3"><title>${s.target} p99 ${s.p99Ms.toFixed(2)} ms</title></rect>`,
      `<rect x="${cx - w / 2}" y="${y(s.p50Ms)}" width="${w}" height="${pad.top + plotH - y(s.p50Ms)}" fill="${colour}"><title>${s.target} p50 ${s.p50Ms.toFixed(2)} ms</title></rect>`,
      `<text x="${cx}" y="${y(s.p50Ms) - 3}" text-anchor="middle" font-size="10">${s.p50Ms.toFixed(2)}</text>`,
      `<text x="${cx}" y="${pad.top + plotH + 14}" text-anchor="middle" font-size="11">${s.target}</text>`,
    );
  });
  return parts.join("\n");
}

/** The latency chart under docs/bench: written by hand, no charting dependency. */
export function latencyChart(report: BenchReport): string {
  const groups = new Map<string, Summary[]>();
  for (const s of report.summary) {
    const id = `${s.kind}, ${s.connections} connection${s.connections === 1 ? "" : "s"}`;
    groups.set(id, [...(groups.get(id) ?? []), s]);
  }
  const width = Math.max(1, groups.size) * panelW;
  const height = panelH + 30;
  const panels = [...groups.entries()].map(([title, g], i) => panel(g, i * panelW, title));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img">
<title>osm bench: p50 and p99 latency per target, by kind and connections</title>
<rect width="100%" height="100%" fill="white"/>
${panels.join("\n")}
<text x="10" y="${height - 8}" font-size="10">p50 solid, p99 pale (ms, medians of ${report.options.rounds} round(s)); ${esc(report.machine.cpuModel)} × ${report.machine.cpus}, Node ${report.machine.node}, ${report.startedAt}</text>
</svg>
`;
}
