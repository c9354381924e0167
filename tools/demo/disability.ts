/**
 * 残联 certificates (source `disability`): holders with a kind (1 视力 … 7 多重) and a
 * grade (1 most severe … 4), certificates issued before and during the period,
 * regraded (a new 发证日期 and grade), cancelled (注销 + date, on death or
 * revocation). Snapshots every 30 June in the period and at its end: GBK CSV without
 * title lines, sometimes tab-separated.
 */
import type { AnyField } from '../../src/ingest/sources.js';
import { ageOn, compactDay, dayOf, monthEnd, monthNumber, type Day, type Month } from './calendar.js';
import { chooseHeaders, Delivery, labelsOf, SnapshotSeries, type GenerationContext } from './delivery.js';
import type { Holding } from './holdings.js';
import { PROVINCE_CITY, COUNTY_NAME, type County } from './people.js';
import { Rng } from './random.js';
import type { Cell } from './sheet.js';
import type { FileTruth } from './truth.js';

export interface CertificateVersion {
  readonly grade: number;
  readonly issuedOn: Day;
}

export interface Certificate {
  readonly pid: number;
  /** 1 视力, 2 听力, 3 言语, 4 肢体, 5 智力, 6 精神, 7 多重 */
  readonly kind: number;
  /** in order of issue; a regrading adds one */
  readonly versions: readonly CertificateVersion[];
  readonly cancelledOn: Day | null;
  /** after its first snapshot as 注销, a cancelled certificate may drop out of later ones */
  readonly droppedAfterCancel: boolean;
  readonly listedFrom: Day;
}

export interface DisabilityPlan {
  readonly certificates: readonly Certificate[];
}

const FIRST_CERTIFICATES = dayOf(2008, 1, 1);

function holdsCertificate(rng: Rng, age: number): boolean {
  return rng.chance(age < 18 ? 0.015 : age < 60 ? 0.045 : 0.1);
}

export function planDisability(rng: Rng, county: County, start: Day, end: Day): DisabilityPlan {
  const certificates: Certificate[] = [];
  for (const person of county.persons) {
    if (person.birth >= start - 365 || !holdsCertificate(rng, ageOn(person.birth, start))) continue;
    const kind = rng.weighted<number>([[1, 12], [2, 15], [3, 3], [4, 35], [5, 12], [6, 13], [7, 5]]);
    const grade = rng.weighted<number>([[1, 12], [2, 18], [3, 30], [4, 40]]);
    const earliest = Math.max(FIRST_CERTIFICATES, person.birth + 365);
    const issuedOn = rng.chance(0.88) ? rng.int(earliest, start - 1) : rng.int(start, end - 15);
    if (person.diedOn !== null && person.diedOn <= issuedOn) continue;
    const versions: CertificateVersion[] = [{ grade, issuedOn }];
    if (rng.chance(0.05)) {
      const regradedOn = Math.max(start, issuedOn + 365) + rng.int(0, 400);
      const newGrade = grade === 1 ? 2 : grade === 4 ? 3 : grade + (rng.chance(0.5) ? 1 : -1);
      if (regradedOn < end - 15 && (person.diedOn === null || regradedOn < person.diedOn)) versions.push({ grade: newGrade, issuedOn: regradedOn });
    }
    let cancelledOn: Day | null = null;
    if (person.diedOn !== null) cancelledOn = person.diedOn + rng.int(10, 90);
    else if (rng.chance(0.02)) cancelledOn = rng.int(Math.max(start, issuedOn + 30), end);
    certificates.push({
      pid: person.pid,
      kind,
      versions,
      cancelledOn: cancelledOn !== null && cancelledOn <= end ? cancelledOn : null,
      droppedAfterCancel: rng.chance(0.5),
      listedFrom: issuedOn + rng.int(0, 20),
    });
  }
  return { certificates };
}

const DISABILITY_FIELDS = [
  'name', 'cert_no', 'gender', 'disability_kind', 'grade', 'issued_on', 'cert_status', 'cancelled_on', 'address', 'phone',
] as const satisfies readonly AnyField[];
type DisabilityField = (typeof DISABILITY_FIELDS)[number];

const OPTIONAL_PRESENCE: Partial<Record<DisabilityField, number>> = { gender: 0.9, disability_kind: 0.9, address: 0.8, phone: 0.75 };

const GRADE_CHINESE = ['', '一级', '二级', '三级', '四级'];

/** Snapshot dates: every 30 June in the period, and its last day. */
function snapshotDays(from: Month, to: Month): Day[] {
  const days: Day[] = [];
  for (let m = from; m <= to; m++) if (monthNumber(m) === 6) days.push(monthEnd(m));
  if (days[days.length - 1] !== monthEnd(to)) days.push(monthEnd(to));
  return days;
}

export async function writeDisability(ctx: GenerationContext, plan: DisabilityPlan): Promise<FileTruth[]> {
  const rng = new Rng(ctx.seed, 'disability files');
  const series = new SnapshotSeries();
  const files: FileTruth[] = [];
  const snapshots = snapshotDays(ctx.fromMonth, ctx.toMonth);
  for (const asOf of snapshots) {
    const d = await Delivery.open(ctx, {
      source: 'disability',
      kind: 'snapshot',
      name: `持证残疾人信息_${compactDay(asOf)}.csv`,
      asOf,
      layout: {
        format: 'csv',
        csv: { encoding: 'gbk', eol: rng.chance(0.6) ? '\r\n' : '\n', delimiter: rng.chance(0.3) ? '\t' : ',' },
      },
    });
    const fields = DISABILITY_FIELDS.filter((f) => !(f in OPTIONAL_PRESENCE) || d.rng.chance(OPTIONAL_PRESENCE[f]!));
    await d.line(chooseHeaders(d.rng, ctx.mapping, 'disability', fields));
    await writeHolders(ctx, d, plan, fields, asOf, snapshots);
    const truth = await d.close(series.expectation(d.rows));
    files.push(truth);
    ctx.progress(`disability ${truth.file}: ${truth.rows} rows`);
  }
  return files;
}

async function writeHolders(
  ctx: GenerationContext,
  d: Delivery,
  plan: DisabilityPlan,
  fields: readonly DisabilityField[],
  asOf: Day,
  snapshots: readonly Day[],
): Promise<void> {
  const { county, mapping } = ctx;
  const rng = d.rng;
  const withSuffix = rng.chance(0.4); // 视力 or 视力残疾
  const gradeStyle = rng.weighted<[number, number, number]>([[[0.6, 0.3, 0.1], 1], [[0.3, 0.3, 0.4], 1], [[0.5, 0.5, 0], 1]]);
  const records = ctx.records.disability;
  const c = d.cells;
  for (const cert of plan.certificates) {
    if (cert.listedFrom > asOf) continue;
    const cancelled = cert.cancelledOn !== null && cert.cancelledOn <= asOf;
    if (cancelled && cert.droppedAfterCancel) {
      // listed as 注销 in the first snapshot after the cancellation only
      const firstAfter = snapshots.find((s) => s >= cert.cancelledOn!);
      if (firstAfter !== undefined && firstAfter < asOf) continue;
    }
    const current = [...cert.versions].reverse().find((v) => v.issuedOn <= asOf) ?? cert.versions[0]!;
    const person = county.persons[cert.pid]!;
    const household = county.households[person.hid]!;
    let certGrade = current.grade;
    if (records.staleGrade(person.pid)) {
      const previous = cert.versions.length > 1 && current !== cert.versions[0] ? cert.versions[0]!.grade : null;
      certGrade = previous ?? (current.grade % 4) + 1;
      c.noteCell('cert_no', 'cert_grade_stale');
    }
    const cells = fields.map((field): Cell => {
      switch (field) {
        case 'name':
          return c.name(person, field);
        case 'cert_no':
          return c.certificate(person, cert.kind, certGrade, field);
        case 'gender':
          return c.gender(person.gender, field);
        case 'disability_kind': {
          const label = labelsOf(mapping, 'disability_kind', String(cert.kind))[0]!;
          return withSuffix && !label.endsWith('残疾') ? label + '残疾' : label;
        }
        case 'grade': {
          const u = rng.next();
          const g = current.grade;
          return u < gradeStyle[0] ? GRADE_CHINESE[g]! : u < gradeStyle[0] + gradeStyle[1] ? `${g}级` : String(g);
        }
        case 'issued_on':
          return c.date(current.issuedOn, field);
        case 'cert_status':
          return cancelled ? '注销' : '正常';
        case 'cancelled_on':
          return cancelled ? c.date(cert.cancelledOn, field) : '';
        case 'address':
          return `${PROVINCE_CITY}${COUNTY_NAME}${household.township}${household.village}`;
        case 'phone':
          return c.phone(household.phone, field);
      }
    });
    await d.data(cells, cert.pid);
  }
}

/** Severe disability (grade 1 or 2) spells, for the settlements' assistance. */
export function disabilityHoldings(plan: DisabilityPlan): Holding[] {
  const out: Holding[] = [];
  for (const cert of plan.certificates) {
    cert.versions.forEach((v, i) => {
      if (v.grade > 2) return;
      const next = cert.versions[i + 1];
      const to = [next?.issuedOn ?? null, cert.cancelledOn].filter((x): x is Day => x !== null);
      out.push({ pid: cert.pid, category: 'severe_disability', from: v.issuedOn, to: to.length ? Math.min(...to) : null, knownFrom: v.issuedOn });
    });
  }
  return out;
}
