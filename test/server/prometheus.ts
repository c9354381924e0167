/** A strict reader of the Prometheus text exposition format, for the tests that scrape /metrics. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

/**
 * The Prometheus text exposition format (0.0.4), strictly: every line a comment (HELP, TYPE)
 * or a sample `name{label="value",…} number`; samples belong to the family declared before
 * them (histograms' _bucket, _sum and _count). Throws on anything else.
 */
export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: string | undefined;
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      current = m[1]!;
      families.set(current, { type: 'untyped', help: m[2]!, samples: [] });
      continue;
    }
    if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      if (m[1] !== current) throw new Error(`TYPE of ${m[1]} without its HELP`);
      families.get(current!)!.type = m[2]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)(?: -?[0-9]+)?$`).exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, value] = m;
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let lm: RegExpExecArray | null;
    let read = 0;
    while ((lm = labelRe.exec(labelText ?? '')) !== null) {
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      read = labelRe.lastIndex;
    }
    if (read !== (labelText ?? '').length) throw new Error(`bad labels: ${line}`);
    const family = current && (name === current || (name!.startsWith(current) && /^_(bucket|sum|count|total|created)$/.test(name!.slice(current.length)))) ? current : undefined;
    if (!family) throw new Error(`sample ${name} outside its family (${current})`);
    families.get(family)!.samples.push({ name: name!, labels, value: Number(value) });
  }
  return families;
}
