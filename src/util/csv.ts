/** Writing CSV (RFC 4180): fields with a comma, quote or line break are quoted. */

export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly (string | number | boolean | null | undefined)[]): string {
  return values.map(csvField).join(',') + '\n';
}

/**
 * A text cell that a spreadsheet must show as text: one starting with = + - @ (or a
 * tab or carriage return) would be read as a formula, and data must never become one.
 */
export function textCell(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}
