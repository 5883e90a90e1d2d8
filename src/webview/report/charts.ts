/** The report's SVG charts and DOM helpers (text always as text). */

const SVG = 'http://www.w3.org/2000/svg';
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
const COLORS = ['bar-a', 'bar-b'];

/** Grouped vertical bars: one group per category, one bar per run. */
export function barChart(
  title: string,
  categories: string[],
  series: { label: string; values: number[] }[],
  opts: { max?: number; format: (v: number) => string; id: string },
): HTMLElement {
  const fig = el('figure', { class: 'chart', id: opts.id });
  fig.append(el('figcaption', {}, title));
  const W = Math.max(260, categories.length * (series.length * 26 + 24) + 50);
  const H = 160;
  const top = 18;
  const bottom = 36;
  const left = 36;
  const max = opts.max ?? Math.max(1, ...series.flatMap((s) => s.values));
  const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  const plotH = H - top - bottom;
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    s.append(svg('line', { x1: left, x2: W - 4, y1: y, y2: y, class: 'grid' }));
    s.append(
      svg(
        'text',
        { x: left - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' },
        opts.max === 1 ? `${Math.round(f * 100)}%` : String(Math.round(f * max)),
      ),
    );
  }
  const groupW = (W - left - 8) / Math.max(1, categories.length);
  const barW = Math.min(24, (groupW - 10) / series.length);
  categories.forEach((c, i) => {
    const gx = left + i * groupW + (groupW - barW * series.length) / 2;
    series.forEach((se, k) => {
      const v = se.values[i] ?? 0;
      const h = max > 0 ? (plotH * v) / max : 0;
      const r = svg('rect', {
        x: gx + k * barW,
        y: top + plotH - h,
        width: Math.max(1, barW - 2),
        height: Math.max(0, h),
        class: `bar ${COLORS[k]}`,
        'data-category': c,
        'data-run': se.label,
        'data-value': v,
      });
      r.append(svg('title', {}, `${se.label} · ${c}: ${opts.format(v)}`));
      s.append(r);
      if (series.length === 1)
        s.append(
          svg('text', { x: gx + k * barW + barW / 2 - 1, y: top + plotH - h - 3, class: 'value', 'text-anchor': 'middle' }, opts.format(v)),
        );
    });
    s.append(
      svg(
        'text',
        { x: left + i * groupW + groupW / 2, y: H - bottom + 14, class: 'axis', 'text-anchor': 'middle' },
        c.length > 14 ? c.slice(0, 13) + '…' : c,
      ),
    );
  });
  fig.append(s);
  if (series.length > 1) {
    const legend = el('div', { class: 'legend' });
    series.forEach((se, k) => legend.append(el('span', { class: `swatch ${COLORS[k]}` }), el('span', {}, se.label)));
    fig.append(legend);
  }
  return fig;
}
