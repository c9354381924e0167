/**
 * 测算过程: one settlement's entitlement calculation (policy/calculate.ts) as the steps staff
 * follow, in Chinese, from the amounts the settlement row states to the gap between what was
 * due and what was paid. Every figure is one the assessment stored (entitlement.calc and the
 * settlement row it read); nothing is computed again here but the differences shown.
 */
import { z } from 'zod';
import { formatYuan } from '../ingest/normalise/money.js';
import { CATEGORY_LABEL, type Category } from '../policy/policy.js';

/** entitlement.calc as assessPerson writes it (policy/calculate.ts `Calculation`). */
export const storedCalculation = z.object({
  period: z.string().nullable(),
  eligibleType: z.boolean(),
  held: z.array(z.string()),
  options: z.array(z.object({ category: z.string(), deductible: z.number(), ratio: z.number(), remainingDeductible: z.number(), amount: z.number() })),
  deductibleUsedBefore: z.number(),
  deductibleApplied: z.number(),
  ratio: z.number().nullable(),
  amount: z.number(),
  annualCap: z.number().nullable(),
  capLeftBefore: z.number().nullable(),
});
export type StoredCalculation = z.infer<typeof storedCalculation>;

/** What the steps read: the settlement row's amounts (fen, null when the file left them empty) and the stored assessment. */
export interface SettlementFigures {
  total: number | null;
  inScope: number | null;
  basicPaid: number | null;
  criticalPaid: number | null;
  otherPaid: number | null;
  /** entitlement.base, .entitled, .paid, .category, .assessed */
  base: number;
  entitled: number;
  paid: number;
  category: string | null;
  assessed: boolean;
  /** entitlement.calc; undefined when it is not of the shape above */
  calc: StoredCalculation | undefined;
}

export interface Step {
  /** 医疗费总额, 起付线, … */
  label: string;
  /** yuan with two decimals, a ratio, or words */
  value: string;
  /** how the figure came about */
  how: string;
}

const y = (fen: number | null): string => (fen === null ? '—' : `${formatYuan(fen)} 元`);
const pct = (bp: number): string => `${bp / 100}%`;
export const categoryName = (c: string): string => CATEGORY_LABEL[c as Category] ?? c;

/** The period of a stored calculation ("2026-01-01/2026-12-31") in words. */
export const periodText = (period: string | null): string => (period ? period.replace('/', ' 至 ') : '不在任何政策期间内');

export function calculationSteps(f: SettlementFigures): Step[] {
  const steps: Step[] = [
    { label: '医疗费总额', value: y(f.total), how: '结算单所列' },
    { label: '政策范围内费用', value: y(f.inScope), how: '结算单所列' },
    { label: '基本医保统筹支付', value: y(f.basicPaid), how: '结算单所列' },
    { label: '大病保险支付', value: y(f.criticalPaid), how: '结算单所列' },
  ];
  if (f.otherPaid) steps.push({ label: '其他保障支付', value: y(f.otherPaid), how: '结算单所列' });
  const minus = [`政策范围内 ${y(f.inScope ?? 0)}`, `基本医保 ${y(f.basicPaid ?? 0)}`, `大病保险 ${y(f.criticalPaid ?? 0)}`, ...(f.otherPaid ? [`其他 ${y(f.otherPaid)}`] : [])];
  steps.push({ label: '进入医疗救助金额（救助基数）', value: y(f.base), how: `${minus.join(' − ')}（不低于 0）` });

  const c = f.calc;
  const option = c && f.category ? c.options.find((o) => o.category === f.category) : undefined;
  if (!c || !f.assessed) {
    steps.push({ label: '应救助', value: y(f.entitled), how: c && !c.period ? '就诊日期不在任何政策期间内' : '该医疗类别不属医疗救助范围' });
  } else if (!f.category || !option) {
    steps.push({ label: '应救助', value: y(f.entitled), how: '就诊当日未持有本期政策救助的类别' });
  } else {
    const capUsed = c.annualCap !== null && c.capLeftBefore !== null ? c.annualCap - c.capLeftBefore : null;
    steps.push(
      {
        label: '救助类别',
        value: categoryName(f.category),
        how: c.options.length > 1 ? `就诊当日持有 ${c.options.map((o) => `${categoryName(o.category)}（可救助 ${y(o.amount)}）`).join('、')}，取金额最高者` : '就诊当日持有的类别',
      },
      {
        label: '起付线',
        value: y(option.deductible),
        how: `本年此前已计 ${y(c.deductibleUsedBefore)}，尚余 ${y(option.remainingDeductible)}；本次计入 ${y(c.deductibleApplied)}`,
      },
      { label: '救助比例', value: pct(option.ratio), how: `${categoryName(f.category)}在本政策期间的比例` },
      {
        label: '按比例计算',
        value: y(c.amount),
        how: `（救助基数 ${y(f.base)} − 尚余起付线 ${y(option.remainingDeductible)}）× ${pct(option.ratio)}，四舍五入到分`,
      },
      {
        label: '年度救助限额',
        value: y(c.annualCap),
        how: capUsed === null ? '—' : `本年此前已用 ${y(capUsed)}，尚余 ${y(c.capLeftBefore)}`,
      },
      {
        label: '应救助',
        value: y(f.entitled),
        how: c.capLeftBefore !== null && c.capLeftBefore < c.amount ? `按比例计算 ${y(c.amount)} 超过限额尚余 ${y(c.capLeftBefore)}，以限额为准` : `按比例计算的金额（未超过限额尚余 ${y(c.capLeftBefore)}）`,
      },
    );
  }
  steps.push(
    { label: '已救助', value: y(f.paid), how: '结算单所列医疗救助基金支出' },
    { label: '差额', value: y(f.entitled - f.paid), how: `应救助 ${y(f.entitled)} − 已救助 ${y(f.paid)}` },
  );
  return steps;
}
