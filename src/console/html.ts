/**
 * HTML for the console, written as tagged templates. Every value interpolated into
 * `html\`…\`` is escaped unless it is itself built with `html` (or `raw`), so data
 * from agency files can never become markup or script.
 */

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(v: string): string {
  return v.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A value as HTML: SafeHtml as it is, arrays one after another, nothing for null/undefined/false, everything else escaped. */
function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new SafeHtml(out);
}

/** Markup the code itself wrote (an SVG chart, say); never for data. */
export const raw = (s: string): SafeHtml => new SafeHtml(s);

/** A query string from parameters, skipping empty ones. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
