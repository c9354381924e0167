/** Plain-text tables for the terminal. Widths count CJK characters as two columns. */

function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number | null)[])[], rightAligned: readonly number[] = []): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...cells.map((r) => displayWidth(r[i] ?? ''))));
  const line = (r: readonly string[]) => r.map((c, i) => pad(c, widths[i]!, rightAligned.includes(i))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}
