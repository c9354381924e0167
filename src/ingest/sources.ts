/**
 * The four sources of spec §1, and the health commission's death list (issue 13), and their fields. Which fields exist and which
 * columns are required (spec §4, **R**) is the contract, so it lives in code; the
 * names a column may go by and the labels a value may take are data
 * (config/mapping.default.yaml, see mapping.ts).
 */
import type { DeliveryKind, SourceKey } from '../db/schema.js';

export const SOURCES = ['civil', 'rural', 'disability', 'settlement', 'death'] as const satisfies readonly SourceKey[];

export function isSourceKey(s: string): s is SourceKey {
  return (SOURCES as readonly string[]).includes(s);
}

export const SOURCE_KIND: Record<SourceKey, DeliveryKind> = {
  civil: 'snapshot',
  rural: 'snapshot',
  disability: 'snapshot',
  settlement: 'delta',
  // each row is a fact (this person died on this date); a later list supersedes nothing
  death: 'delta',
};

/** Chinese names for staff-facing text. */
export const SOURCE_LABEL: Record<SourceKey, string> = {
  civil: '民政救助对象名册',
  rural: '脱贫人口和防返贫监测对象信息',
  disability: '持证残疾人信息',
  settlement: '医保结算明细',
  death: '死亡人员名单',
};

export const FIELDS = {
  civil: ['name', 'id_number', 'gender', 'birth_date', 'head_name', 'head_id_number', 'relation', 'township',
    'village', 'phone', 'category', 'recognised_on', 'exited_on', 'member_status'],
  rural: ['household_no', 'name', 'id_number', 'gender', 'relation', 'township', 'village', 'phone',
    'household_type', 'registered_on', 'year_lifted', 'monitored_since', 'risk_eliminated', 'risk_eliminated_on'],
  disability: ['name', 'cert_no', 'gender', 'disability_kind', 'grade', 'issued_on', 'cert_status', 'cancelled_on',
    'address', 'phone'],
  settlement: ['settlement_id', 'reversed_id', 'insurance_no', 'name', 'id_number', 'gender', 'birth_date',
    'insurance_type', 'med_type', 'institution_code', 'institution_name', 'institution_level', 'place', 'began_on',
    'ended_on', 'settled_on', 'total', 'self_paid', 'over_limit', 'in_scope', 'basic_paid', 'critical_paid',
    'assistance_paid', 'other_paid', 'personal_burden', 'method'],
  death: ['name', 'id_number', 'township', 'died_on'],
} as const satisfies Record<SourceKey, readonly string[]>;

export type FieldOf<S extends SourceKey> = (typeof FIELDS)[S][number];
export type AnyField = FieldOf<SourceKey>;

/** Columns whose absence rejects the whole file (spec §4, R): the default profiles' contract. */
export const REQUIRED_COLUMNS: { [S in SourceKey]: readonly FieldOf<S>[] } = {
  civil: ['name', 'id_number', 'category', 'recognised_on'],
  rural: ['name', 'id_number', 'household_type'],
  disability: ['name', 'cert_no', 'grade', 'issued_on'],
  settlement: ['settlement_id', 'insurance_no', 'name', 'id_number', 'med_type', 'ended_on', 'settled_on', 'total',
    'in_scope', 'basic_paid', 'critical_paid', 'assistance_paid'],
  death: ['name', 'id_number', 'died_on'],
};

/**
 * A deployment's profile requires, unless it says otherwise, only what its rows cannot
 * say enough without (issue 13). Not 人员编号: a usable id number names the person, and
 * a row with neither is rejected. Not 认定日期: the spell starts at the first snapshot
 * that lists the person. Not the fund columns: an absent fund paid 0. Each absence is
 * noted on the delivery (ABSENT_COLUMN_NOTE).
 */
export const PROFILE_REQUIRED_COLUMNS: { [S in SourceKey]: readonly FieldOf<S>[] } = {
  civil: ['name', 'id_number', 'category'],
  rural: ['name', 'id_number', 'household_type'],
  disability: ['name', 'cert_no', 'grade', 'issued_on'],
  settlement: ['settlement_id', 'name', 'id_number', 'med_type', 'ended_on', 'settled_on', 'total', 'in_scope'],
  death: ['name', 'id_number', 'died_on'],
};

/** What a file without one of these columns is read as, noted on the delivery. */
export const ABSENT_COLUMN_NOTE: Partial<Record<AnyField, string>> = {
  insurance_no: '文件没有「人员编号」列：按身份证号认人，没有有效身份证号的行不能使用',
  recognised_on: '文件没有「认定日期」列：每人的身份从首次列入名册的截至日期算起',
  basic_paid: '文件没有「基本医疗保险统筹基金支出」列：按 0 计',
  critical_paid: '文件没有「大病保险资金支出」列：按 0 计',
  assistance_paid: '文件没有「医疗救助基金支出」列：按 0 计',
};

/** The fields a profile must name columns for: without them nobody can be told. */
export const IDENTITY_FIELDS: { [S in SourceKey]: readonly FieldOf<S>[] } = {
  civil: ['name', 'id_number'],
  rural: ['name', 'id_number'],
  disability: ['name', 'cert_no'],
  settlement: ['settlement_id', 'id_number'],
  death: ['name', 'id_number'],
};

/** Amounts in fen: the fields a profile may read as a sum of columns. */
export const MONEY_FIELDS = ['total', 'self_paid', 'over_limit', 'in_scope', 'basic_paid', 'critical_paid', 'assistance_paid',
  'other_paid', 'personal_burden'] as const satisfies readonly AnyField[];

/** Calendar dates: the fields a profile may let give only a month. */
export const DATE_FIELDS = ['birth_date', 'recognised_on', 'exited_on', 'registered_on', 'monitored_since', 'risk_eliminated_on',
  'issued_on', 'cancelled_on', 'began_on', 'ended_on', 'settled_on', 'died_on'] as const satisfies readonly AnyField[];

/** Chinese names of the fields, for messages to staff (the spec's first alias). */
export const FIELD_LABEL: Record<AnyField, string> = {
  name: '姓名', id_number: '身份证号', gender: '性别', birth_date: '出生日期', head_name: '户主姓名',
  head_id_number: '户主身份证号', relation: '与户主关系', township: '乡镇', village: '村', phone: '联系电话',
  category: '救助类别', recognised_on: '认定日期', exited_on: '退出日期', member_status: '状态',
  household_no: '户编号', household_type: '户类型', registered_on: '识别时间', year_lifted: '脱贫年度',
  monitored_since: '纳入监测时间', risk_eliminated: '风险消除', risk_eliminated_on: '风险消除时间',
  cert_no: '残疾人证号', disability_kind: '残疾类别', grade: '残疾等级', issued_on: '发证日期',
  cert_status: '证件状态', cancelled_on: '注销日期', address: '户籍地址',
  settlement_id: '结算ID', reversed_id: '原结算ID', insurance_no: '人员编号', insurance_type: '险种类型',
  med_type: '医疗类别', institution_code: '定点医药机构编号', institution_name: '定点医药机构名称',
  institution_level: '医疗机构等级', place: '就医地', began_on: '开始日期', ended_on: '结束日期',
  settled_on: '结算日期', total: '医疗费总额', self_paid: '全自费金额', over_limit: '超限价自费金额',
  in_scope: '符合政策范围金额', basic_paid: '基本医疗保险统筹基金支出', critical_paid: '大病保险资金支出',
  assistance_paid: '医疗救助基金支出', other_paid: '其他基金支出', personal_burden: '个人负担总金额',
  method: '结算方式', died_on: '死亡时间',
};

/** Value vocabularies and the codes each may produce; a mapping file can add labels, never codes. */
export const VOCABULARY_CODES = {
  /** civil affairs' categories; a mixed list (a profile's labels) may also carry the other agencies' */
  category: ['destitute', 'dibao', 'dibao_edge', 'orphan', 'de_facto_orphan', 'catastrophic', 'lifted', 'monitored', 'severe_disability'],
  household_type: ['lifted', 'lifted_unstable', 'edge_of_poverty', 'sudden_hardship'],
  member_status: ['active', 'exited', 'suspended'],
  cert_status: ['valid', 'cancelled'],
  disability_kind: ['1', '2', '3', '4', '5', '6', '7'],
  grade: ['1', '2', '3', '4'],
  gender: ['M', 'F', 'unknown'],
  /** medical-type codes are the insurance system's own; any two- or three-digit code is accepted */
  med_type: null,
  place: ['local', 'in_province', 'cross_province'],
  method: ['one_stop', 'direct_out_of_area', 'manual_claim'],
  yes_no: ['yes', 'no'],
  institution_level: ['0', '1', '2', '3'],
  insurance_type: null,
} as const satisfies Record<string, readonly string[] | null>;

export type VocabularyName = keyof typeof VOCABULARY_CODES;
export type CodeOf<V extends VocabularyName> = (typeof VOCABULARY_CODES)[V] extends readonly (infer C)[] ? C : string;

export const VOCABULARY_CODE_PATTERN: Partial<Record<VocabularyName, RegExp>> = {
  med_type: /^\d{2,3}$/,
  insurance_type: /^\d{3}$/,
};
