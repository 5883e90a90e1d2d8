/**
 * The box of a zoom call (DeepEyes' `image_zoom_in_tool`) as the webviews draw it on the image it
 * refers to: the cell's recorded `tool.region`, or, for a zoom recorded before regions were, its
 * `arguments.bbox_2d` in the first input image (the only image DeepEyes crops). Pure: the chat
 * panel, the dataset viewer and the tests run it.
 */
import type { ToolRegion } from '../core/protocol/types';
import type { CodeCell } from '../core/trajectory/types';

export type { ToolRegion } from '../core/protocol/types';

/** DeepEyes' zoom tool (eval/eval_vstar.py's system prompt) */
export const ZOOM_TOOL = 'image_zoom_in_tool';

const isBox = (b: unknown): b is ToolRegion['bbox'] =>
  Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === 'number' && Number.isFinite(x));

/** The region a tool cell cropped, if it is a zoom with a usable box. */
export function cellRegion(tool: CodeCell['tool']): ToolRegion | undefined {
  if (!tool) return undefined;
  if (tool.region && isBox(tool.region.bbox) && Number.isInteger(tool.region.imageIndex) && tool.region.imageIndex >= 0) return tool.region;
  const b = tool.arguments?.bbox_2d;
  return tool.name === ZOOM_TOOL && isBox(b) ? { imageIndex: 0, bbox: [b[0], b[1], b[2], b[3]] } : undefined;
}

/** `[l, t, r, b]` as the model wrote the numbers (280.5 stays 280.5, 180 stays 180). */
export function bboxText(bbox: ToolRegion['bbox']): string {
  return `[${bbox.join(', ')}]`;
}

/** A box in percent of the image's size, for an overlay that scales with the image as it is shown. */
export interface RegionRect {
  left: number;
  top: number;
  width: number;
  height: number;
  /** the box reaches past the image (the crop pads it with black): only its part inside is drawn */
  clipped: boolean;
}

/**
 * The box over an image of `width`×`height` pixels, in percent, cut to the image. Undefined when
 * nothing of it is inside (or the box is inverted, which the crop rejects).
 */
export function regionRect(bbox: ToolRegion['bbox'], width: number, height: number): RegionRect | undefined {
  if (!(width > 0 && height > 0)) return undefined;
  const [l, t, r, b] = bbox;
  if (r < l || b < t) return undefined;
  const x0 = Math.max(0, l);
  const y0 = Math.max(0, t);
  const x1 = Math.min(width, r);
  const y1 = Math.min(height, b);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return {
    left: (100 * x0) / width,
    top: (100 * y0) / height,
    width: (100 * (x1 - x0)) / width,
    height: (100 * (y1 - y0)) / height,
    clipped: x0 !== l || y0 !== t || x1 !== r || y1 !== b,
  };
}
