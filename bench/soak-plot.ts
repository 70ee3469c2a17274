/**
 * The soak's plot: RSS and heap used over time as an SVG (warm-up and rest shaded, the fitted slopes dashed, the
 * RSS budget as a line), rendered to PNG in Chromium (Debian package chromium, driven by playwright-core).
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export interface PlotSeries {
  readonly name: string;
  readonly color: string;
  /** [minutes, MiB] */
  readonly points: readonly (readonly [number, number])[];
  /** The least-squares line over [from, to] minutes, drawn dashed. */
  readonly fit?: {
    readonly from: number;
    readonly to: number;
    readonly slope: number;
    readonly intercept: number;
  };
}

export interface Plot {
  readonly title: string;
  readonly subtitle: string;
  readonly series: readonly PlotSeries[];
  /** Shaded spans, [from, to] minutes. */
  readonly spans: readonly {
    readonly from: number;
    readonly to: number;
    readonly label: string;
    readonly color: string;
  }[];
  readonly budgetMiB?: number;
}

const W = 1100;
const H = 560;
const M = { left: 70, right: 20, top: 60, bottom: 50 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A step of 1, 2 or 5 × 10^n giving about `count` ticks over `range`. */
function tickStep(range: number, count: number): number {
  const raw = range / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
}

export function plotSvg(plot: Plot): string {
  const xs = plot.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = plot.series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(...ys, plot.budgetMiB ?? 0) * 1.08;
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / y1) * (H - M.top - M.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="24" font-size="16" font-weight="bold">${esc(plot.title)}</text>`,
    `<text x="${M.left}" y="44" fill="#444">${esc(plot.subtitle)}</text>`,
  ];
  for (const span of plot.spans) {
    parts.push(
      `<rect x="${px(span.from)}" y="${M.top}" width="${Math.max(0, px(span.to) - px(span.from))}" height="${H - M.top - M.bottom}" fill="${span.color}"/>`,
      `<text x="${px(span.from) + 4}" y="${M.top + 16}" fill="#555">${esc(span.label)}</text>`,
    );
  }
  const yStep = tickStep(y1, 8);
  for (let y = 0; y <= y1; y += yStep)
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${py(y)}" y2="${py(y)}" stroke="#e4e4e4"/>`,
      `<text x="${M.left - 8}" y="${py(y) + 4}" text-anchor="end">${y}</text>`,
    );
  const xStep = tickStep(x1 - x0, 12);
  for (let x = Math.ceil(x0 / xStep) * xStep; x <= x1; x += xStep)
    parts.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${H - M.bottom}" y2="${H - M.bottom + 5}" stroke="#333"/>`,
      `<text x="${px(x)}" y="${H - M.bottom + 20}" text-anchor="middle">${+x.toFixed(2)}</text>`,
    );
  parts.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">minutes since the load started</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">MiB</text>`,
  );
  if (plot.budgetMiB !== undefined)
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${py(plot.budgetMiB)}" y2="${py(plot.budgetMiB)}" stroke="#c00" stroke-dasharray="8 4"/>`,
      `<text x="${W - M.right - 4}" y="${py(plot.budgetMiB) - 6}" text-anchor="end" fill="#c00">RSS budget ${plot.budgetMiB} MiB</text>`,
    );
  plot.series.forEach((s, i) => {
    const d = s.points
      .map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
    if (s.fit) {
      const f = s.fit;
      parts.push(
        `<line x1="${px(f.from)}" y1="${py(f.intercept + f.slope * f.from)}" x2="${px(f.to)}" y2="${py(f.intercept + f.slope * f.to)}" stroke="black" stroke-dasharray="5 4"/>`,
      );
    }
    const ly = M.top + 16 + 18 * (i + 1);
    parts.push(
      `<line x1="${M.left + 110}" x2="${M.left + 134}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${M.left + 140}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Chromium: VOXGATE_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.VOXGATE_CHROMIUM ?? '/usr/lib/chromium/chromium';

/** Renders the SVG to a PNG file in headless Chromium; throws when Chromium is absent or fails. */
export async function renderPng(svg: string, file: string): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (Debian package chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } });
    await page.setContent(
      `<!doctype html><body style="margin:0"><div style="width:${W}px;height:${H}px">${svg.replace('<svg ', '<svg style="display:block" ')}</div></body>`,
    );
    await page.locator('svg').screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
