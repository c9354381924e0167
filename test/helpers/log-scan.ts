/**
 * Personal data in log text: the sample county's names, id numbers and phones, and
 * anything else shaped like a valid id number or an unmasked mobile number (the
 * generated counties of other tests). Used on a whole test run's log (global-setup.ts)
 * and by the security suite. A finding names its line and kind, never the value.
 */
import { readFileSync } from 'node:fs';
import { checkChar } from '../../src/ingest/normalise/id-number.js';
import { readTruth } from './sample.js';

export interface Finding {
  line: number;
  kind: 'id number' | 'phone' | 'name';
}

const ID_LIKE = /(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])/g;
const MOBILE = /(?<![0-9])1[3-9][0-9]{9}(?![0-9])/g;

let sample: { names: string[]; ids: Set<string>; landlines: string[] } | undefined;
function samplePeople() {
  if (!sample) {
    const persons = readTruth('persons.csv');
    sample = {
      // one-character names would match ordinary text; two and more are a person
      names: [...new Set(persons.map((p) => p.name ?? '').filter((n) => [...n].length >= 2))],
      ids: new Set(persons.map((p) => p.id_number ?? '').filter(Boolean)),
      landlines: [...new Set(persons.map((p) => p.phone ?? '').filter((p) => p.length >= 7 && !/^1[3-9][0-9]{9}$/.test(p)))],
    };
  }
  return sample;
}

/** The text's findings; strings of JSON are read as they are written (Chinese unescaped). */
export function scanLogText(text: string): Finding[] {
  const { names, ids, landlines } = samplePeople();
  const findings: Finding[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const at = i + 1;
    // a URL in a log line holds a name percent-encoded
    const line = raw.includes('%') ? `${raw} ${decodePercent(raw)}` : raw;
    for (const m of line.match(ID_LIKE) ?? []) {
      if (ids.has(m) || checkChar(m.slice(0, 17)) === m.slice(17).toUpperCase()) findings.push({ line: at, kind: 'id number' });
    }
    // every mobile number, and the sample's other phones (landlines) as they stand
    for (const _ of line.match(MOBILE) ?? []) findings.push({ line: at, kind: 'phone' });
    for (const p of landlines) if (line.includes(p)) findings.push({ line: at, kind: 'phone' });
    for (const n of names) if (line.includes(n)) findings.push({ line: at, kind: 'name' });
  });
  return findings;
}

function decodePercent(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURIComponent(m);
    } catch {
      return m;
    }
  });
}

export function scanLogFile(path: string): Finding[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return scanLogText(text);
}

/** A finding list as a message that holds no personal data. */
export function describeFindings(path: string, findings: Finding[]): string {
  const byKind = new Map<string, number[]>();
  for (const f of findings) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f.line]);
  return `${path}: ${[...byKind].map(([k, lines]) => `${lines.length} × ${k} (lines ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ', …' : ''})`).join('; ')}`;
}

/** The log settings for a command a test starts: into the run's log file when there is one, else warnings on stderr. */
export function runLogEnv(): Record<string, string> {
  const file = process.env.AIDLINK_LOG_FILE;
  return file ? { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', AIDLINK_LOG_FILE: file } : { LOG_LEVEL: 'warn' };
}
