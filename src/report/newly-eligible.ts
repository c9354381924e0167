/**
 * "Newly eligible people to contact" (policy.md §4): people with an open unclaimed or
 * underpaid flag, or a potential_catastrophic or high_burden flag, whose first such
 * flag was raised since the previous report, grouped by township, then village. A
 * person reported before does not come back as new. Each report is recorded as a
 * report run. Id numbers are masked.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Store } from '../db/store.js';
import { maskIdNumber } from '../privacy.js';
import { formatYuan } from '../ingest/normalise/money.js';
import { csvLine, textCell } from '../util/csv.js';
import { countyStamp } from '../util/time.js';
import { CATEGORY_LABEL, type Category } from '../policy/policy.js';

export const OUTREACH_FLAGS = ['unclaimed', 'underpaid', 'potential_catastrophic', 'high_burden'] as const;

export const FLAG_LABEL: Record<string, string> = {
  unclaimed: '未申请救助',
  underpaid: '救助不足',
  overpaid: '多支付',
  high_burden: '高额负担（倾斜救助）',
  potential_catastrophic: '疑似因病致贫（邀请申请）',
};

export const REASON_LABEL: Record<string, string> = {
  manual_claim: '零星报销，需本人申请',
  out_of_area: '异地就医，未享受本地救助',
  recognised_late: '认定晚于结算',
  missed_one_stop: '一站式结算漏报',
};

export interface ReportLine {
  township: string | null;
  village: string | null;
  personId: number;
  name: string | null;
  idNumber: string | null;
  phone: string | null;
  categories: string[];
  flag: string;
  reason: string | null;
  settlementId: string | null;
  institution: string | null;
  beganOn: string | null;
  endedOn: string | null;
  year: number | null;
  base: number | null;
  entitled: number | null;
  paid: number | null;
  /** what the flag is worth: entitled − paid for a settlement, the year's amount for a person flag */
  amount: number;
}

export interface NewlyEligible {
  since: Date | null;
  dataAsOf: string | null;
  lines: ReportLine[];
  persons: number;
  total: number;
}

/** The people and flags new since the previous report (nothing is written). */
export async function newlyEligible(store: Store): Promise<NewlyEligible> {
  const previous = await store.k.selectFrom('report_run').select('created_at').where('kind', '=', 'newly-eligible').orderBy('created_at', 'desc').executeTakeFirst();
  const since = previous?.created_at ?? null;
  const dataAsOf = (await sql<{ as_of: string | null }>`select max(as_of)::text as as_of from delivery where status = 'accepted'`.execute(store.k)).rows[0]!.as_of;
  const rows = await sql<{
    township: string | null; village: string | null; person_id: number; name: string | null; id_number: string | null; phone: string | null;
    categories: string[] | null; flag: string; reason: string | null; settlement_id: string | null; institution: string | null;
    began_on: string | null; ended_on: string | null; year: number | null; base: number | null; entitled: number | null; paid: number | null; amount: number;
  }>`
    with first_outreach as (
      select person_id, min(raised_at) as first_raised from flag where flag = any(${[...OUTREACH_FLAGS]}) group by person_id
    )
    select p.township, p.village, p.id as person_id, p.name, p.id_number, p.golden->'phone'->>'value' as phone,
           (select array_agg(distinct s.category) from spell s where s.person_id = p.id and s.superseded_at is null and s.valid_to is null) as categories,
           f.flag, f.reason, f.settlement_id, sr.institution_name as institution, sr.began_on::text as began_on,
           e.service_date::text as ended_on, f.year, e.base, e.entitled, e.paid,
           coalesce(f.amount, e.entitled - e.paid, 0) as amount
    from flag f
    join first_outreach fo on fo.person_id = f.person_id
    join person p on p.id = f.person_id
    left join entitlement e on e.settlement_id = f.settlement_id
    left join settlement_row sr on sr.delivery_id = e.delivery_id and sr.row_no = e.row_no
    where f.withdrawn_at is null and f.flag = any(${[...OUTREACH_FLAGS]})
      and (${since}::timestamptz is null or fo.first_raised > ${since}::timestamptz)
    order by p.township nulls last, p.village nulls last, p.id, f.settlement_id nulls last, f.flag`.execute(store.k);
  const lines: ReportLine[] = rows.rows.map((r) => ({
    township: r.township, village: r.village, personId: r.person_id, name: r.name, idNumber: r.id_number, phone: r.phone,
    categories: (r.categories ?? []).sort(), flag: r.flag, reason: r.reason, settlementId: r.settlement_id, institution: r.institution,
    beganOn: r.began_on, endedOn: r.ended_on, year: r.year, base: r.base, entitled: r.entitled, paid: r.paid, amount: Number(r.amount),
  }));
  return { since, dataAsOf, lines, persons: new Set(lines.map((l) => l.personId)).size, total: lines.reduce((s, l) => s + l.amount, 0) };
}

const HEADER = ['乡镇', '村', '人员ID', '姓名', '身份证号', '联系电话', '救助类别', '标记', '原因', '结算ID', '医疗机构', '入院日期', '出院日期', '年度', '进入救助金额', '应救助金额', '已救助金额', '差额/金额'];

const money = (fen: number | null) => (fen === null ? '' : formatYuan(fen));

/** Writes the report as CSV (UTF-8 with BOM, which Excel and WPS read as such) and records the run. */
export async function writeNewlyEligibleReport(store: Store, opts: { dir: string; requestedBy: string; now?: Date }): Promise<{ runId: number; file: string; persons: number; flags: number; total: number }> {
  const report = await newlyEligible(store);
  mkdirSync(opts.dir, { recursive: true });
  const body = report.lines.map((l) =>
    csvLine([
      textCell(l.township), textCell(l.village), l.personId, textCell(l.name), maskIdNumber(l.idNumber), textCell(l.phone),
      l.categories.map((c) => CATEGORY_LABEL[c as Category] ?? c).join('、'), FLAG_LABEL[l.flag] ?? l.flag, l.reason ? REASON_LABEL[l.reason] ?? l.reason : '',
      l.settlementId ?? '', textCell(l.institution), l.beganOn ?? '', l.endedOn ?? '', l.year ?? '', money(l.base), money(l.entitled), money(l.paid), money(l.amount),
    ]),
  );
  const footer = csvLine(['合计', '', `${report.persons} 人`, '', '', '', '', `${report.lines.length} 项`, '', '', '', '', '', '', '', '', '', money(report.total)]);
  // the run is recorded only if its file was written; the run id keeps two reports in one second apart
  return store.transaction(async (tx) => {
    const run = await tx.k
      .insertInto('report_run')
      .values({ kind: 'newly-eligible', requested_by: opts.requestedBy, since: report.since, data_as_of: report.dataAsOf, persons: report.persons, flags: report.lines.length, total: report.total, files: '[]' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const file = join(opts.dir, `newly-eligible-${countyStamp(opts.now ?? new Date())}-${run.id}.csv`);
    writeFileSync(file, '\ufeff' + csvLine(HEADER) + body.join('') + footer);
    await tx.k.updateTable('report_run').set({ files: JSON.stringify([file]) }).where('id', '=', run.id).execute();
    return { runId: run.id, file, persons: report.persons, flags: report.lines.length, total: report.total };
  });
}
