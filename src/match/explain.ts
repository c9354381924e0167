/**
 * Why a row belongs to its person, in Chinese and English, for staff and for the
 * operator: the method, the score and what each compared field contributed. Values
 * themselves are not printed (they are personal data); the levels say how they compared.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { COMPARISON_LABEL, LEVEL_LABEL } from './compare.js';
import { candidatesOf, evidenceOf, type StoredEvidence, type StoredEvidenceItem } from './review.js';

const METHOD_LABEL: Record<string, [string, string]> = {
  id: ['身份证号一致（确定性关联）', 'same valid id number (deterministic)'],
  cert_id: ['残疾人证号中的身份证号一致（确定性关联）', 'same id number inside the disability certificate (deterministic)'],
  insurance_no: ['医保人员编号一致（确定性关联）', 'same insurance person number 人员编号 (deterministic)'],
  scored: ['按多项信息评分关联', 'linked by a score over several fields'],
  new: ['无匹配对象，建立新人员', 'no match: founded a new person'],
  staff: ['工作人员确认', 'confirmed by staff'],
  pending: ['尚未匹配', 'not matched yet'],
};

export class ExplainError extends Error {
  override name = 'ExplainError';
}

/** What one comparison contributed: its weight, the comparison and the level, in Chinese and English. */
function evidenceLine(x: StoredEvidenceItem, indent: string): string {
  const [czh, cen] = (COMPARISON_LABEL as Record<string, [string, string] | undefined>)[x.c] ?? [x.c, x.c];
  const [lzh, len] = LEVEL_LABEL[x.l] ?? [x.l, x.l];
  return `${indent}${(x.w >= 0 ? '+' : '') + x.w.toFixed(1)}  ${czh}：${lzh} / ${cen}: ${len}`;
}

function evidenceLines(e: StoredEvidence): string[] {
  const lines = [`  先验 / prior (one person among all): ${e.prior.toFixed(1)}`];
  for (const x of e.evidence) lines.push(evidenceLine(x, '  '));
  lines.push(`  = ${e.total.toFixed(1)}（对数几率 / log2 odds），概率 / probability ${(e.probability * 100).toFixed(1)}%`);
  return lines;
}

export async function explainLink(k: Kysely<DB>, file: string, rowNo: number): Promise<string> {
  const row = await k
    .selectFrom('row_link')
    .innerJoin('delivery', 'delivery.id', 'row_link.delivery_id')
    .leftJoin('person', 'person.id', 'row_link.person_id')
    .select(['delivery.file', 'delivery.sheet', 'row_link.row_no', 'row_link.state', 'row_link.method', 'row_link.score', 'row_link.evidence', 'row_link.candidates', 'row_link.person_id', 'row_link.pooled', 'person.person_key', 'person.row_count'])
    .where('delivery.file', '=', file)
    .where('row_link.row_no', '=', rowNo)
    .orderBy('delivery.received_at', 'desc')
    .executeTakeFirst();
  if (!row) throw new ExplainError(`no matched row ${rowNo} in ${file}; run \`aidlink match\` first, or check the file name with \`aidlink files\``);
  const [mzh, men] = METHOD_LABEL[row.method] ?? [row.method, row.method];
  const out: string[] = [`${row.file}${row.sheet ? ` [${row.sheet}]` : ''} 第 ${row.row_no} 行 / row ${row.row_no}`];
  if (row.state === 'review') {
    out.push(`状态：待人工核对 / state: waiting for review`);
  } else {
    out.push(`人员 / person: ${row.person_id}（共 ${row.row_count} 行 / ${row.row_count} rows）`);
  }
  out.push(`方式 / method: ${mzh} / ${men}`);
  if (row.pooled) {
    out.push('合并判断：单独比对时待人工核对，与同一人的其他记录合并比对后关联 / decided with its cluster: alone it waited for review; pooled with the other rows of its person, the evidence was clear');
  }
  const evidence = evidenceOf(row.evidence);
  if (evidence) {
    out.push(row.state === 'review' ? '最可能的人员的比对 / against the most likely person:' : row.pooled ? '单独比对 / the row alone, against its most likely person:' : '比对 / comparison:');
    out.push(...evidenceLines(evidence));
  }
  const candidates = candidatesOf(row.candidates);
  if (candidates.length) {
    out.push('候选人员 / candidates:');
    for (const c of candidates) {
      out.push(`  人员 / person ${c.person_id}: ${c.score.toFixed(1)}，${(c.probability * 100).toFixed(1)}%`);
      // a review's candidates carry their own evidence: each one's levels, to see what split them
      for (const x of c.evidence ?? []) out.push(evidenceLine(x, '    '));
    }
  }
  return out.join('\n') + '\n';
}
