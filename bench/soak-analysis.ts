/** The soak's fits: least squares, and the low points of V8's heap sawtooth (its heap after each major GC). */

export type Point = readonly [x: number, y: number];

/** Least-squares line through the points; the slope is NaN with fewer than 3 points. */
export function leastSquares(points: readonly Point[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  const slope = n < 3 || sxx === 0 ? NaN : points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * The points lowest within `halfWindow` on either side (x units): under a steady load V8's heap used rises
 * with garbage until a major GC drops it to what is still reachable, so these troughs follow the retained
 * heap while a fit through every sample depends on where in a cycle the run starts and ends (a sawtooth of
 * 270 MiB over 25 minutes moves it by up to ~10 MiB/min either way).
 */
export function troughs(points: readonly Point[], halfWindow: number): Point[] {
  return points.filter(([x, y]) => points.every(([x2, y2]) => Math.abs(x2 - x) > halfWindow || y2 >= y));
}
