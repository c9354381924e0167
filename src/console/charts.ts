/**
 * Small charts drawn on the server as SVG: no library, no script. Every label goes
 * through `html`, so a township or village name from an agency file is text, never
 * markup. The console's CSP forbids inline `style` attributes: everything here is
 * an SVG presentation attribute (fill, stroke, font-size, text-anchor).
 */
import { html, type SafeHtml } from './html.js';

/** Six colours, told apart in print and by most colour-blind readers. */
export const PALETTE = ['#1c5d99', '#e08a00', '#2f7d32', '#b3261e', '#6a4c93', '#00838f'] as const;

/** Chinese labels need a CJK font: the server's default fonts may have none. */
const FONT = 'Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif';
const TEXT = '#1f2933';
const MUTED = '#616e7c';
const GRID = '#d9e2ec';

/** Series past the sixth reuse the palette, paler, so they stay distinguishable. */
function colourOf(i: number): { fill: string; opacity: string } {
  return { fill: PALETTE[i % PALETTE.length]!, opacity: Math.floor(i / PALETTE.length) % 2 === 0 ? '1' : '0.45' };
}

/** Rough width of text in px: CJK characters are square, Latin about half as wide. */
function textWidth(s: string, fontSize: number): number {
  let w = 0;
  for (const ch of s) w += ch.codePointAt(0)! > 0x2e80 ? fontSize : fontSize * 0.6;
  return w;
}

/** Cut a label to fit `max` px (the full text stays in the hover title). */
function fit(s: string, max: number, fontSize: number): string {
  if (textWidth(s, fontSize) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (textWidth(out + ch + '…', fontSize) > max) break;
    out += ch;
  }
  return out + '…';
}

const r1 = (n: number): number => Math.round(n * 10) / 10;
/** A value a chart can draw: finite and not below zero. */
const drawable = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

/** A round top for the value axis and its step (1, 2 or 5 × 10ⁿ), four or five gridlines. */
function niceScale(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  return { top: Math.ceil(max / step) * step, step };
}

function empty(title: string): SafeHtml {
  return html`<div class="chart"><p class="empty">${title}：暂无数据</p></div>`;
}

function svgOpen(title: string, width: number, height: number): SafeHtml {
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${title}" font-family="${FONT}" font-size="12" fill="${TEXT}">
    <title>${title}</title>
    <text x="12" y="22" font-size="14" font-weight="bold">${title}</text>`;
}

export interface Bar {
  label: string;
  value: number;
}

/**
 * Horizontal bars, one per label (labels of any length read well down the left),
 * with the formatted value at the end of each bar and on hover.
 */
export function barChart(opts: { title: string; bars: readonly Bar[]; format: (value: number) => string; width?: number; height?: number }): SafeHtml {
  if (opts.bars.length === 0) return empty(opts.title);
  const width = opts.width ?? 640;
  const fontSize = 12;
  const top = 36;
  const rowH = 24;
  const height = opts.height ?? top + opts.bars.length * rowH + 12;
  const pitch = (height - top - 12) / opts.bars.length;
  const barH = Math.max(4, Math.min(18, pitch - 6));
  const labelW = Math.min(width * 0.3, Math.max(...opts.bars.map((b) => textWidth(b.label, fontSize))) + 8);
  const x0 = 12 + labelW;
  const valueW = Math.max(...opts.bars.map((b) => textWidth(opts.format(b.value), fontSize))) + 12;
  const plotW = Math.max(40, width - x0 - valueW - 12);
  const max = Math.max(...opts.bars.map((b) => drawable(b.value)));
  return html`<div class="chart">${svgOpen(opts.title, width, height)}
    <line x1="${r1(x0)}" y1="${top - 4}" x2="${r1(x0)}" y2="${r1(height - 8)}" stroke="${MUTED}" stroke-width="1" />
    ${opts.bars.map((b, i) => {
      const y = top + i * pitch + (pitch - barH) / 2;
      const w = max > 0 ? (drawable(b.value) / max) * plotW : 0;
      const shown = opts.format(b.value);
      return html`<g>
        <title>${b.label}：${shown}</title>
        <text x="${r1(x0 - 6)}" y="${r1(y + barH / 2 + 4)}" text-anchor="end">${fit(b.label, labelW - 8, fontSize)}</text>
        <rect x="${r1(x0)}" y="${r1(y)}" width="${r1(Math.max(w, b.value > 0 ? 1 : 0))}" height="${r1(barH)}" fill="${PALETTE[0]}" />
        <text x="${r1(x0 + w + 4)}" y="${r1(y + barH / 2 + 4)}" fill="${MUTED}">${shown}</text>
      </g>`;
    })}
  </svg></div>`;
}

export interface Series {
  label: string;
  values: readonly number[];
}

/**
 * Vertical bars grouped along the x axis (months, townships), one colour per series,
 * a legend above, a value axis with gridlines, each bar's value on hover.
 */
export function groupedBarChart(opts: { title: string; groups: readonly string[]; series: readonly Series[]; format: (value: number) => string; width?: number; height?: number }): SafeHtml {
  if (opts.groups.length === 0 || opts.series.length === 0) return empty(opts.title);
  const fontSize = 12;
  const n = opts.series.length;
  const barW = n > 6 ? 10 : 14;
  const groupW = Math.max(n * barW + 16, Math.min(120, Math.max(...opts.groups.map((g) => textWidth(g, fontSize))) + 8));
  const max = Math.max(0, ...opts.series.flatMap((s) => s.values.map(drawable)));
  const scale = niceScale(max);
  const ticks: number[] = [];
  for (let t = 0; t <= scale.top + scale.step / 2; t += scale.step) ticks.push(t);
  const axisW = Math.max(...ticks.map((t) => textWidth(opts.format(t), fontSize))) + 16;
  const width = opts.width ?? Math.max(480, Math.ceil(axisW + opts.groups.length * groupW + 24));
  const x0 = axisW + 8;
  const plotW = width - x0 - 16;
  const pitch = plotW / opts.groups.length;

  // the legend wraps onto as many lines as it needs
  const legend: { s: Series; i: number; x: number; y: number }[] = [];
  let lx = 12;
  let ly = 44;
  opts.series.forEach((s, i) => {
    const w = 18 + textWidth(s.label, fontSize) + 16;
    if (lx + w > width - 12 && lx > 12) {
      lx = 12;
      ly += 18;
    }
    legend.push({ s, i, x: lx, y: ly });
    lx += w;
  });
  const plotTop = ly + 20;
  const plotH = opts.height ? Math.max(60, opts.height - plotTop - 36) : 200;
  const height = plotTop + plotH + 36;
  const yOf = (v: number) => plotTop + plotH - (drawable(v) / scale.top) * plotH;

  return html`<div class="chart">${svgOpen(opts.title, width, height)}
    ${legend.map(({ s, i, x, y }) => {
      const c = colourOf(i);
      return html`<g><rect x="${r1(x)}" y="${r1(y - 10)}" width="12" height="12" fill="${c.fill}" fill-opacity="${c.opacity}" stroke="${c.fill}" /><text x="${r1(x + 18)}" y="${r1(y)}">${s.label}</text></g>`;
    })}
    ${ticks.map(
      (t) => html`<g>
        <line x1="${r1(x0)}" y1="${r1(yOf(t))}" x2="${r1(width - 16)}" y2="${r1(yOf(t))}" stroke="${GRID}" stroke-width="1" />
        <text x="${r1(x0 - 6)}" y="${r1(yOf(t) + 4)}" text-anchor="end" fill="${MUTED}">${opts.format(t)}</text>
      </g>`,
    )}
    <line x1="${r1(x0)}" y1="${r1(plotTop + plotH)}" x2="${r1(width - 16)}" y2="${r1(plotTop + plotH)}" stroke="${MUTED}" stroke-width="1" />
    ${opts.groups.map((g, gi) => {
      const gx = x0 + gi * pitch;
      const bw = Math.min(barW, (pitch - 8) / n);
      const start = gx + (pitch - bw * n) / 2;
      return html`<g>
        ${opts.series.map((s, si) => {
          const v = s.values[gi] ?? 0;
          const c = colourOf(si);
          const y = yOf(v);
          return html`<rect x="${r1(start + si * bw)}" y="${r1(y)}" width="${r1(Math.max(1, bw - 1))}" height="${r1(plotTop + plotH - y)}" fill="${c.fill}" fill-opacity="${c.opacity}"><title>${g} · ${s.label}：${opts.format(v)}</title></rect>`;
        })}
        <text x="${r1(gx + pitch / 2)}" y="${r1(plotTop + plotH + 18)}" text-anchor="middle"><title>${g}</title>${fit(g, pitch - 4, fontSize)}</text>
      </g>`;
    })}
  </svg></div>`;
}
