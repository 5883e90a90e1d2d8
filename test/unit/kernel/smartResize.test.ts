import { strict as assert } from 'node:assert';
import { pyRound, smartResize } from '../../../src/core/kernel/smartResize';

describe('kernel smartResize (Qwen, eval.py)', () => {
  it('pyRound rounds half to even like Python 3', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4999, 2.5001, 17.5, 18.5].map(pyRound), [0, 2, 2, 4, 0, -2, 2, 3, 18, 18]);
  });

  it('golden values computed with the reference formula (Python, eval.py smart_resize)', () => {
    // [height, width] -> [height, width]
    const cases: Array<[[number, number], [number, number]]> = [
      [
        [500, 1000],
        [504, 1008],
      ], // the 1000x500 (w x h) example
      [
        [1000, 500],
        [1008, 504],
      ],
      [
        [224, 224],
        [224, 224],
      ],
      [
        [14, 14],
        [56, 56],
      ], // below min_pixels: scaled up, ceil
      [
        [10, 1000],
        [28, 1008],
      ], // a side rounds to 0: at least one factor
      [
        [4000, 3000],
        [4004, 2996],
      ],
      [
        [8000, 6000],
        [4116, 3080],
      ], // above max_pixels: scaled down, floor
      [
        [42, 42],
        [56, 56],
      ], // 42/28 = 1.5 -> 2 (half to even)
      [
        [70, 70],
        [56, 56],
      ], // 70/28 = 2.5 -> 2 (half to even); 56*56 = min_pixels, kept
    ];
    for (const [[h, w], want] of cases) assert.deepEqual(smartResize(h, w), want, `${h}x${w}`);
  });

  it('results are multiples of 28 within [min, max] pixels for ordinary sizes', () => {
    for (const [h, w] of [
      [1, 1],
      [27, 29],
      [333, 777],
      [1080, 1920],
      [3024, 4032],
      [12000, 9000],
    ]) {
      const [H, W] = smartResize(h, w);
      assert.equal(H % 28, 0);
      assert.equal(W % 28, 0);
      assert.ok(H * W <= 16384 * 28 * 28, `${h}x${w} -> ${H}x${W}`);
      assert.ok(H * W >= 4 * 28 * 28, `${h}x${w} -> ${H}x${W}`);
    }
  });

  it('honours custom min/max pixels', () => {
    assert.deepEqual(smartResize(1000, 1000, 28, 4 * 28 * 28, 256 * 28 * 28), [448, 448]);
  });
});
