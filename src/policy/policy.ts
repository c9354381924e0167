/**
 * The county's policy as data (policy.md): dated parameters per category, caps,
 * medical types, thresholds, age-out, priority. Validated when loaded; a policy with
 * a gap or an overlap in its dates, or a category nobody knows, fails with a message
 * naming the file and the entry. Money becomes fen and ratios basis points here, so
 * the calculation never sees floating point.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { nextDay, parseDate } from '../ingest/normalise/date.js';
import { parseMoney } from '../ingest/normalise/money.js';

export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../config/policy.default.yaml', import.meta.url));

/** Every category a source can state (spec §4, §6). */
export const CATEGORIES = ['destitute', 'orphan', 'de_facto_orphan', 'dibao', 'monitored', 'dibao_edge', 'severe_disability', 'catastrophic', 'lifted'] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_LABEL: Record<Category, string> = {
  destitute: '特困人员',
  orphan: '孤儿',
  de_facto_orphan: '事实无人抚养儿童',
  dibao: '低保对象',
  monitored: '防返贫监测对象',
  dibao_edge: '低保边缘家庭成员',
  severe_disability: '重度残疾人',
  catastrophic: '因病致贫重病患者',
  lifted: '脱贫人口',
};

export class PolicyError extends Error {
  override name = 'PolicyError';
}

const yuan = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = parseMoney(String(v));
  if (!m || m.rounded || m.fen < 0) {
    ctx.addIssue({ code: 'custom', message: `not an amount of yuan: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return m.fen;
});

/** 75%, "75%", 0.75 → 7500 basis points */
const ratio = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const s = String(v).trim();
  const pct = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(s);
  const bp = pct ? Math.round(Number(pct[1]) * 100) : /^(?:0|1)(?:\.\d{1,4})?$/.test(s) ? Math.round(Number(s) * 10000) : NaN;
  if (!Number.isInteger(bp) || bp < 0 || bp > 10000) {
    ctx.addIssue({ code: 'custom', message: `not a ratio between 0% and 100%: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return bp;
});

const date = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const d = v instanceof Date ? v.toISOString().slice(0, 10) : parseDate(v);
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `not a date: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return d;
});

const category = z.enum(CATEGORIES, { error: (i) => `unknown category ${JSON.stringify(i.input)} (known: ${CATEGORIES.join(', ')})` });
const medicalTypes = z.array(z.union([z.string(), z.number()]).transform(String)).min(1);

const policySchema = z
  .object({
    name: z.string().min(1),
    /** the county's name, for the titles of what is printed (a township's list, a report) */
    county: z.string().trim().min(1).max(40).optional(),
    medical_types: medicalTypes,
    thresholds: z
      .object({ unclaimed: yuan, underpaid: yuan, overpaid: yuan, high_burden: yuan, potential_catastrophic: yuan })
      .strict(),
    priority: z.array(category).min(1),
    age_out: z.record(z.string(), z.number().int().positive()).default({}),
    periods: z
      .array(
        z
          .object({
            from: date,
            to: date,
            annual_cap: yuan,
            medical_types: medicalTypes.optional(),
            categories: z.record(z.string(), z.object({ deductible: yuan, ratio }).strict()),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export interface CategoryRule {
  deductible: number;
  /** basis points: 7500 = 75% */
  ratio: number;
}

export interface Period {
  from: string;
  /** inclusive */
  to: string;
  annualCap: number;
  medicalTypes: ReadonlySet<string>;
  categories: ReadonlyMap<Category, CategoryRule>;
}

export interface Policy {
  name: string;
  /** the county's name, for printed titles; absent when the policy file does not give it */
  county?: string | undefined;
  file: string;
  thresholds: { unclaimed: number; underpaid: number; overpaid: number; highBurden: number; potentialCatastrophic: number };
  /** categories in priority order */
  priority: readonly Category[];
  ageOut: ReadonlyMap<Category, number>;
  periods: readonly Period[];
}

export function parsePolicy(doc: unknown, file: string): Policy {
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new PolicyError(`policy file ${file} is invalid:\n${issues.join('\n')}`);
  }
  const p = parsed.data;
  const fail = (msg: string): never => {
    throw new PolicyError(`policy file ${file}: ${msg}`);
  };
  const known = new Set<string>(CATEGORIES);
  for (const c of Object.keys(p.age_out)) if (!known.has(c)) fail(`age_out: unknown category "${c}" (known: ${CATEGORIES.join(', ')})`);
  const missing = CATEGORIES.filter((c) => !p.priority.includes(c));
  if (missing.length) fail(`priority: every category must be ranked; missing ${missing.join(', ')}`);
  if (new Set(p.priority).size !== p.priority.length) fail('priority: a category is ranked twice');

  const periods = [...p.periods].sort((a, b) => (a.from < b.from ? -1 : 1));
  periods.forEach((per, i) => {
    if (per.to < per.from) fail(`period ${per.from}–${per.to} ends before it begins`);
    for (const c of Object.keys(per.categories)) if (!known.has(c)) fail(`period ${per.from}–${per.to}: unknown category "${c}" (known: ${CATEGORIES.join(', ')})`);
    const prev = periods[i - 1];
    if (prev) {
      if (per.from <= prev.to) fail(`periods ${prev.from}–${prev.to} and ${per.from}–${per.to} overlap`);
      if (per.from !== nextDay(prev.to)) fail(`gap between periods: nothing covers ${nextDay(prev.to)} to the day before ${per.from}`);
    }
  });
  return {
    name: p.name,
    county: p.county,
    file,
    thresholds: {
      unclaimed: p.thresholds.unclaimed,
      underpaid: p.thresholds.underpaid,
      overpaid: p.thresholds.overpaid,
      highBurden: p.thresholds.high_burden,
      potentialCatastrophic: p.thresholds.potential_catastrophic,
    },
    priority: p.priority,
    ageOut: new Map(Object.entries(p.age_out) as [Category, number][]),
    periods: periods.map((per) => ({
      from: per.from,
      to: per.to,
      annualCap: per.annual_cap,
      medicalTypes: new Set(per.medical_types ?? p.medical_types),
      categories: new Map(Object.entries(per.categories) as [Category, CategoryRule][]),
    })),
  };
}

export function loadPolicy(file: string = DEFAULT_POLICY_FILE): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError(`policy file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    // dates stay text: YAML would otherwise turn 2025-01-01 into a timestamp at midnight UTC
    doc = parseYaml(text, { schema: 'core' });
  } catch (err) {
    if (err instanceof YAMLParseError) throw new PolicyError(`policy file ${file}: YAML syntax error: ${err.message.split('\n')[0]}`);
    throw err;
  }
  return parsePolicy(doc, file);
}

/**
 * What the policy says, as a short hash: two policy files that assess alike (whatever
 * their path or layout) have the same fingerprint. An assessment on another policy's
 * fingerprint than the last run's recomputes everyone (assess/basis.ts).
 */
export function policyFingerprint(policy: Policy): string {
  const canonical = JSON.stringify(policy, (key, value: unknown) => {
    if (key === 'file') return undefined;
    if (value instanceof Map) return [...value.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
    if (value instanceof Set) return [...value].sort();
    return value;
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The period a day falls in, if any. */
export function periodOn(policy: Policy, day: string): Period | undefined {
  return policy.periods.find((p) => p.from <= day && day <= p.to);
}
