// Draws the hang lab's picture: one panel per story, each plotting the quantity that differs
// between the naive code (red) and unwedge (green) over the run's time, as small multiples in
// one SVG. No dependencies.

/** Points of one run: [ms since that run started, value]. */
export type Series = Array<[number, number]>;

export interface Panel {
  /** What the story is, e.g. "a pool whose shutdown waits on hung work". */
  title: string;
  /** The seed story it comes from, e.g. "seed 000". */
  seed: string;
  /** What the y axis shows, e.g. "requests answered". */
  quantity: string;
  naive: Series;
  unwedge: Series;
  naiveNote: string;
  unwedgeNote: string;
  /** Counts change in steps (hold a value until the next point); latencies are joined by lines. */
  steps?: boolean;
  /** A line drawn dashed across the panel, e.g. where the probe gives up. */
  limit?: { value: number; label: string };
  /** Moments marked with a cross on the naive line, e.g. failures nobody was told about. */
  naiveMarks?: { at: number[]; label: string };
}

const W = 480;
const H = 220;
const PAD = { left: 46, right: 14, top: 48, bottom: 58 };
const BUCKETS = 240;
const RED = '#c0392b';
const GREEN = '#1e8449';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** 1, 2, 5, 10, 20, 50…: the smallest such number at or above `value`. */
function niceCeil(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((n) => n >= value) ?? 10 * magnitude;
}

/**
 * At most BUCKETS points per series, keeping each time bucket's highest value: a peak of a
 * thousand-point series must still show at the width of a panel.
 */
function thin(series: Series, tMax: number): Series {
  if (series.length <= BUCKETS) return series;
  const width = tMax / BUCKETS;
  const out: Series = [];
  for (const [t, v] of series) {
    const last = out.at(-1);
    if (last !== undefined && Math.floor(last[0] / width) === Math.floor(t / width)) {
      last[1] = Math.max(last[1], v);
    } else {
      out.push([t, v]);
    }
  }
  return out;
}

function panel(p: Panel, x0: number, y0: number): string {
  const all = [...p.naive, ...p.unwedge];
  const tMax = Math.max(1, ...all.map(([t]) => t));
  const yMax = niceCeil(Math.max(1, p.limit?.value ?? 0, ...all.map(([, v]) => v)));
  const px = (t: number) => x0 + PAD.left + (t / tMax) * (W - PAD.left - PAD.right);
  const py = (v: number) => y0 + H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const line = (series: Series, color: string, name: string) => {
    const points: Series = [];
    for (const [t, v] of thin(series, tMax)) {
      const previous = points.at(-1);
      if (p.steps && previous !== undefined) points.push([t, previous[1]]);
      points.push([t, v]);
    }
    const coords = points.map(([t, v]) => `${px(t).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    return `<polyline class="${name}" fill="none" stroke="${color}" stroke-width="2" points="${coords}"/>`;
  };
  const marks = (p.naiveMarks?.at ?? []).map((t) => {
    const [x, y] = [px(t), py(0)];
    return `<path d="M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}" stroke="${RED}" stroke-width="1.5"/>`;
  });
  const limit = p.limit
    ? [
        `<line x1="${px(0)}" y1="${py(p.limit.value)}" x2="${px(tMax)}" y2="${py(p.limit.value)}" stroke="#999" stroke-dasharray="4 3"/>`,
        `<text x="${px(tMax)}" y="${py(p.limit.value) - 4}" text-anchor="end" font-size="10" fill="#666" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(p.limit.label)}</text>`,
      ]
    : [];
  return [
    `<g class="panel" data-seed="${escapeXml(p.seed)}">`,
    `<text x="${x0 + 8}" y="${y0 + 18}" font-weight="bold">${escapeXml(p.title)} [${escapeXml(p.seed)}]</text>`,
    `<text x="${x0 + 8}" y="${y0 + 34}" font-size="11" fill="#444">${escapeXml(p.quantity)}</text>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(tMax)}" y2="${py(0)}" stroke="#999"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#999"/>`,
    `<text x="${px(0) - 4}" y="${py(yMax) + 4}" text-anchor="end" font-size="10">${yMax}</text>`,
    `<text x="${px(0) - 4}" y="${py(0) + 4}" text-anchor="end" font-size="10">0</text>`,
    `<text x="${px(0)}" y="${py(0) + 13}" font-size="10">0 s</text>`,
    `<text x="${px(tMax)}" y="${py(0) + 13}" text-anchor="end" font-size="10">${(tMax / 1000).toFixed(1)} s</text>`,
    line(p.naive, RED, 'naive'),
    line(p.unwedge, GREEN, 'unwedge'),
    ...limit,
    ...marks,
    `<text x="${x0 + 8}" y="${y0 + H - 24}" font-size="11" fill="${RED}">naive: ${escapeXml(p.naiveNote)}</text>`,
    `<text x="${x0 + 8}" y="${y0 + H - 9}" font-size="11" fill="${GREEN}">unwedge: ${escapeXml(p.unwedgeNote)}</text>`,
    '</g>',
  ].join('\n');
}

/** The key, in the cell after the last panel (or in a row of its own). */
function legend(x0: number, y0: number, lines: string[]): string {
  const text = lines.map(
    (line, i) =>
      `<text x="${x0 + 8}" y="${y0 + 92 + i * 16}" font-size="11" fill="#444">${escapeXml(line)}</text>`,
  );
  return [
    `<g class="legend">`,
    `<line x1="${x0 + 8}" y1="${y0 + 40}" x2="${x0 + 40}" y2="${y0 + 40}" stroke="${RED}" stroke-width="2"/>`,
    `<text x="${x0 + 48}" y="${y0 + 44}">the naive code</text>`,
    `<line x1="${x0 + 8}" y1="${y0 + 62}" x2="${x0 + 40}" y2="${y0 + 62}" stroke="${GREEN}" stroke-width="2"/>`,
    `<text x="${x0 + 48}" y="${y0 + 66}">the same code with unwedge</text>`,
    ...text,
    '</g>',
  ].join('\n');
}

/** The whole picture: panels two by two, the key in the next cell, `notes` under the key. */
export function renderSvg(panels: Panel[], notes: string[]): string {
  const cols = 2;
  const cells = panels.length + 1;
  const rows = Math.ceil(cells / cols);
  const at = (i: number): [number, number] => [(i % cols) * W, 34 + Math.floor(i / cols) * H];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${rows * H + 40}" font-family="sans-serif" font-size="12">`,
    '<title>The hang lab: for each story, what differs between the naive code and unwedge</title>',
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="22" font-size="15">The hang lab: ${panels.length} hangs from real backends, each run with the naive code and with unwedge</text>`,
    ...panels.map((p, i) => panel(p, ...at(i))),
    legend(...at(panels.length), notes),
    '</svg>',
    '',
  ].join('\n');
}
