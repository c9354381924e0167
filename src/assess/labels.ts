/** What flags and their reasons are called for staff (policy.md §4), in one place for reports and the console. */

/** The flags that mean someone to contact (policy.md §4: "newly eligible people to contact"). */
export const OUTREACH_FLAGS = ['unclaimed', 'underpaid', 'potential_catastrophic', 'high_burden'] as const;
export type OutreachFlag = (typeof OUTREACH_FLAGS)[number];

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

export const WITHDRAWN_LABEL: Record<string, string> = {
  reversed: '结算已冲销',
  not_in_data: '结算已不在数据中',
  no_longer_holds: '条件已不满足',
};
