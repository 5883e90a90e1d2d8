/**
 * A zoom call's box drawn on the image it refers to (DeepEyes' `image_zoom_in_tool`): the image,
 * a rectangle over it placed in percent of the image's own pixel size (so it scales with the
 * image as shown, whatever the panel's width), the box's numbers as its label, and a caption.
 * Built from strings this code owns and the trajectory's inline image (a data: URL): nothing
 * remote, no inline style markup (positions are set through the CSSOM, which the CSP allows).
 */
import { bboxText, regionRect, type ToolRegion } from '../protocol/toolRegion';

/** an element with attributes and text (not dom.ts's: the report's bundle stays without the chat's web components) */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface RegionImage {
  mime: string;
  data: string;
}

/**
 * `source`: the image the box is in, when this view has it (a follow-up question's zoom refers to
 * an earlier question's image). `label`: the call's own `label` argument.
 */
export function zoomRegionFigure(region: ToolRegion, source: RegionImage | undefined, label?: string): HTMLElement {
  const box = bboxText(region.bbox);
  const fig = el('figure', { class: 'zoom-region', 'data-bbox': region.bbox.join(','), 'data-image-index': String(region.imageIndex) });
  const cap = el('figcaption', { class: 'zoom-caption' });
  const what = `bbox_2d ${box} on input image ${region.imageIndex + 1}${label ? ` · “${label}”` : ''}`;
  if (!source) {
    cap.textContent = `${what} (an image of an earlier question)`;
    fig.append(cap);
    return fig;
  }
  const frame = el('div', { class: 'zoom-frame' });
  const img = el('img', {
    class: 'zoom-source',
    src: `data:${source.mime};base64,${source.data}`,
    alt: `input image ${region.imageIndex + 1} with the zoom box ${box}`,
    decoding: 'async',
  });
  const rect = el('div', { class: 'zoom-box', hidden: '' });
  rect.append(el('span', { class: 'zoom-label' }, box));
  frame.append(img, rect);
  cap.textContent = what;
  fig.append(frame, cap);
  const place = () => {
    const r = regionRect(region.bbox, img.naturalWidth, img.naturalHeight);
    cap.textContent = `${what} (${img.naturalWidth}×${img.naturalHeight})${r ? (r.clipped ? ' · the box reaches past the image' : '') : ' · the box is outside the image'}`;
    if (!r) return;
    rect.style.left = `${r.left}%`;
    rect.style.top = `${r.top}%`;
    rect.style.width = `${r.width}%`;
    rect.style.height = `${r.height}%`;
    // the label sits above the box, or inside it when the box touches the image's top
    rect.classList.toggle('label-inside', r.top < 8);
    rect.classList.toggle('clipped', r.clipped);
    rect.hidden = false;
    fig.dataset.placed = 'true';
  };
  img.addEventListener('load', place, { once: true });
  if (img.complete && img.naturalWidth) place();
  return fig;
}
