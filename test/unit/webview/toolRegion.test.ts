/**
 * A zoom call's box as the webviews draw it (src/protocol/toolRegion.ts): the recorded region, or
 * for a zoom recorded before regions were, its `bbox_2d` in the first image; the box in percent of
 * the image (it scales with the image as shown), cut to the image.
 */
import { strict as assert } from 'node:assert';
import { bboxText, cellRegion, regionRect } from '../../../src/protocol/toolRegion';

describe('toolRegion: a zoom call’s box for the overlay', () => {
  it('the recorded region wins; an older zoom cell’s bbox_2d gives the first image; other cells have none', () => {
    assert.deepEqual(
      cellRegion({ name: 'image_zoom_in_tool', arguments: { bbox_2d: [1, 2, 3, 4] }, region: { imageIndex: 1, bbox: [5, 6, 7, 8] } }),
      { imageIndex: 1, bbox: [5, 6, 7, 8] },
    );
    assert.deepEqual(cellRegion({ name: 'image_zoom_in_tool', arguments: { bbox_2d: [280.5, 180, 340, 236], label: 'x' } }), {
      imageIndex: 0,
      bbox: [280.5, 180, 340, 236],
    });
    assert.equal(cellRegion(undefined), undefined, 'a Python cell');
    assert.equal(cellRegion({ name: 'image_zoom_in_tool', arguments: { bbox_2d: [1, 2, 3] } }), undefined, 'not four numbers');
    assert.equal(cellRegion({ name: 'image_zoom_in_tool', arguments: { bbox_2d: ['1', 2, 3, 4] } }), undefined);
    assert.equal(cellRegion({ name: 'image_rotate_tool', arguments: { bbox_2d: [1, 2, 3, 4] } }), undefined, 'another tool');
  });

  it('the box in percent of the image, cut to it (a box past the edge is marked clipped); nothing to draw outside or inverted', () => {
    assert.deepEqual(regionRect([100, 50, 300, 150], 400, 200), { left: 25, top: 25, width: 50, height: 50, clipped: false });
    assert.deepEqual(regionRect([-50, -50, 20, 20], 100, 100), { left: 0, top: 0, width: 20, height: 20, clipped: true });
    assert.deepEqual(regionRect([0, 0, 100, 100], 100, 100), { left: 0, top: 0, width: 100, height: 100, clipped: false });
    assert.equal(regionRect([500, 500, 600, 600], 100, 100), undefined, 'outside the image');
    assert.equal(regionRect([100, 0, 10, 50], 400, 200), undefined, 'right < left: the crop rejects it');
    assert.equal(regionRect([1, 2, 3, 4], 0, 0), undefined, 'an image not loaded');
  });

  it('the label writes the numbers as the model did', () => {
    assert.equal(bboxText([280.5, 180, 340, 236]), '[280.5, 180, 340, 236]');
  });
});
