/**
 * A sample's model calls in the eval report's detail (the stored Trajectory): each call's text and
 * its code cells (code, stdout, stderr, error, output images, the call score's marker). All text
 * goes in as text; images are data: URLs made from the trajectory's inline base64.
 */
import { imageDataUrl } from '../../protocol/images';
import type { ReportSample } from '../../protocol/report';
import { cellRegion } from '../../protocol/toolRegion';
import { zoomRegionFigure, type RegionImage } from '../zoomRegion';
import { el } from './charts';
import { cellMarker } from './reward';

type Turn = NonNullable<ReportSample['trajectory']>['turns'][number];

export const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** One model call: its heading, its text and its code cells (`inputImages`: the question's, on which a zoom call's box is drawn). */
export function turnSection(turn: Turn, reward: ReportSample['reward'], inputImages: readonly RegionImage[] = []): HTMLElement {
  const tu = el('section', { class: `turn${turn.discarded ? ' discarded' : ''}` });
  tu.append(
    el('h3', {}, `Model call ${turn.index + 1}${turn.discarded ? ' (no code, no answer: sent again)' : ''} · ${secs(turn.latencyMs)}`),
  );
  tu.append(el('pre', { class: 'text' }, turn.content));
  for (const c of turn.cells) tu.append(cellBox(c, reward, inputImages));
  return tu;
}

/** One code cell: status and time (and the call score), code, outputs, error, images. */
function cellBox(c: Turn['cells'][number], reward: ReportSample['reward'], inputImages: readonly RegionImage[]): HTMLElement {
  const cell = el('div', { class: `cell ${c.status}` });
  const kind = c.tool ? c.tool.name : 'code';
  const meta = el('div', { class: 'cell-meta' }, `${kind} · ${c.status}${c.durationMs !== undefined ? ` · ${secs(c.durationMs)}` : ''}`);
  const step = reward?.cells?.[c.id];
  if (step !== undefined) meta.append(' ', cellMarker(step));
  cell.append(meta);
  cell.append(el('pre', { class: 'code' }, c.code));
  if (c.stdout) cell.append(el('pre', { class: 'stdout' }, c.stdout));
  if (c.stderr) cell.append(el('pre', { class: 'stderr' }, c.stderr));
  if (c.error) cell.append(el('pre', { class: 'error-text' }, `${c.error.ename}: ${c.error.evalue}`));
  // a zoom call: its box on the image it names, then the crop (below)
  const region = cellRegion(c.tool);
  const label = c.tool?.arguments.label;
  if (region) cell.append(zoomRegionFigure(region, inputImages[region.imageIndex], typeof label === 'string' ? label : undefined));
  if (c.images.length) {
    const ci = el('div', { class: 'images' });
    for (const im of c.images)
      ci.append(el('img', { src: imageDataUrl(im), alt: `output image ${im.id}`, class: 'thumb', 'data-image': im.id }));
    cell.append(ci);
  }
  return cell;
}
