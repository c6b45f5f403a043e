// Draws the hang lab's picture: for each story, the health route's latency over time with the
// naive code and with unwedge, as small multiples in one SVG. No dependencies.
import type { Latency } from './http.js';

export interface Panel {
  title: string;
  naive?: Latency;
  unwedge?: Latency;
  naiveNote: string;
  unwedgeNote: string;
}

const W = 460;
const H = 170;
const PAD = { left: 46, right: 12, top: 40, bottom: 44 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(p: Panel, x0: number, y0: number): string {
  const series = [p.naive?.series ?? [], p.unwedge?.series ?? []];
  const tMax = Math.max(1, ...series.flat().map(([t]) => t));
  const yMax = Math.max(20, ...series.flat().map(([, ms]) => ms));
  const px = (t: number) => x0 + PAD.left + (t / tMax) * (W - PAD.left - PAD.right);
  const py = (ms: number) => y0 + H - PAD.bottom - (ms / yMax) * (H - PAD.top - PAD.bottom);
  const line = (points: Array<[number, number]>, color: string) =>
    points.length === 0
      ? ''
      : `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points
          .map(([t, ms]) => `${px(t).toFixed(1)},${py(ms).toFixed(1)}`)
          .join(' ')}"/>`;
  return [
    `<text x="${x0 + 8}" y="${y0 + 16}" font-weight="bold">${escapeXml(p.title)}</text>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(tMax)}" y2="${py(0)}" stroke="#999"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#999"/>`,
    `<text x="${px(0) - 4}" y="${py(yMax) + 4}" text-anchor="end" font-size="10">${Math.round(yMax)} ms</text>`,
    `<text x="${px(0) - 4}" y="${py(0) + 4}" text-anchor="end" font-size="10">0</text>`,
    `<text x="${px(tMax)}" y="${py(0) + 12}" text-anchor="end" font-size="10">${(tMax / 1000).toFixed(1)} s</text>`,
    line(p.naive?.series ?? [], '#c0392b'),
    line(p.unwedge?.series ?? [], '#27ae60'),
    `<text x="${x0 + 8}" y="${y0 + H - 20}" font-size="11" fill="#c0392b">naive: ${escapeXml(p.naiveNote)}</text>`,
    `<text x="${x0 + 8}" y="${y0 + H - 6}" font-size="11" fill="#27ae60">unwedge: ${escapeXml(p.unwedgeNote)}</text>`,
  ].join('\n');
}

export function renderSvg(panels: Panel[]): string {
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * W;
  const height = rows * H + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<title>The hang lab: health-route latency per seed story, naive code against unwedge</title>',
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="20" font-size="14">The hang lab: health-route latency while each story runs (red: naive code, green: unwedge)</text>`,
    ...panels.map((p, i) => panel(p, (i % cols) * W, 30 + Math.floor(i / cols) * H)),
    '</svg>',
    '',
  ].join('\n');
}
