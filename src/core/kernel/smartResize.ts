/**
 * Qwen's "smart resize" (qwen_vl_utils, as copied into the seed's eval.py), in TypeScript, with
 * Python's float semantics: `round` is round-half-to-even, `/` and `math.sqrt` are IEEE doubles
 * in both languages, so the results are identical. The kernel does the actual resize in Python
 * (prelude/inputs.py `smart_resize`); this mirror lets callers know the size without a kernel, and the
 * golden tests compare the two.
 */

export const IMAGE_FACTOR = 28;
export const MIN_PIXELS = 4 * 28 * 28;
export const MAX_PIXELS = 16384 * 28 * 28;

/** Python 3 `round(x)` for a finite double: ties go to the even integer. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const roundByFactor = (n: number, factor: number) => pyRound(n / factor) * factor;
const ceilByFactor = (n: number, factor: number) => Math.ceil(n / factor) * factor;
const floorByFactor = (n: number, factor: number) => Math.floor(n / factor) * factor;

/** Returns `[height, width]`, both multiples of `factor`, pixels within [minPixels, maxPixels] (as eval.py computes them). */
export function smartResize(
  height: number,
  width: number,
  factor = IMAGE_FACTOR,
  minPixels = MIN_PIXELS,
  maxPixels = MAX_PIXELS,
): [number, number] {
  let hBar = Math.max(factor, roundByFactor(height, factor));
  let wBar = Math.max(factor, roundByFactor(width, factor));
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    hBar = floorByFactor(height / beta, factor);
    wBar = floorByFactor(width / beta, factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = ceilByFactor(height * beta, factor);
    wBar = ceilByFactor(width * beta, factor);
  }
  return [hBar, wBar];
}
