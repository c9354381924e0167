/**
 * Table types for Kysely, one interface per table, merged into `DB`.
 * Raw rows are facts: `source_row` and its per-source detail tables are written
 * once at ingest and never edited; everything downstream is derived from them.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** `date` columns travel as ISO strings (YYYY-MM-DD): a calendar date has no time zone. */
export type DateCol = string;
/** A timestamp; optional on insert where the column has a default. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** Money in integer fen (bigint columns; the store parses int8 to number). */
type Fen = number;

export type SourceKey = 'civil' | 'rural' | 'disability' | 'settlement' | 'death';
export type DeliveryKind = 'snapshot' | 'delta';
export type DeliveryStatus = 'staged' | 'accepted' | 'quarantined' | 'rejected' | 'discarded' | 'superseded';
export type AsOfOrigin = 'title' | 'filename' | 'argument';
export type Severity = 'error' | 'warning';

export interface DeliveryTable {
  id: Generated<number>;
  /** Path relative to the inbox root, e.g. `civil/civil_20250131.csv`. */
  file: string;
  /** null only for a rejected file whose source could not be told */
  source: SourceKey | null;
  kind: DeliveryKind | null;
  content_hash: string;
  size_bytes: Fen;
  format: 'csv' | 'xlsx' | null;
  encoding: string | null;
  delimiter: string | null;
  sheet: string | null;
  header_row: number | null;
  headers: string[] | null;
  /** canonical field → 0-based column index */
  column_map: ColumnType<Record<string, number> | null, string | null, string | null>;
  /** the format profile that read it (a source's default profile is named after the source); null when rejected unread */
  profile: ColumnType<string | null, string | null | undefined, string | null | undefined>;
  /** a snapshot supersedes only earlier snapshots of its stream (the source, unless a profile names another) */
  stream: ColumnType<string | null, string | null | undefined, string | null | undefined>;
  as_of: DateCol | null;
  as_of_origin: AsOfOrigin | null;
  received_at: Timestamp;
  status: DeliveryStatus;
  status_reason: string | null;
  superseded_by: number | null;
  /** A staff decision on a quarantined snapshot; a fact that re-evaluation never overrides. */
  decision: 'released' | 'discarded' | null;
  decided_by: string | null;
  decided_at: Timestamp | null;
  row_count: Generated<number>;
  rejected_rows: Generated<number>;
  warning_count: Generated<number>;
  /** Checkpoint: every data row up to this row number is committed. */
  loaded_through_row: Generated<number>;
  finished_at: Timestamp | null;
  error: string | null;
}

export interface DeliveryEventTable {
  id: Generated<number>;
  delivery_id: number;
  at: Timestamp;
  from_status: DeliveryStatus | null;
  to_status: DeliveryStatus;
  actor: string;
  reason: string | null;
}

/** Identity fields every source shares; the matcher reads only this table. */
export interface SourceRowTable {
  delivery_id: number;
  /** 1-based line (CSV) or row (XLSX) number as a person sees it, title lines counted. */
  row_no: number;
  source: SourceKey;
  /** Cells as received, in the file's column order (see delivery.headers). */
  raw: string[];
  /** hash of the raw cells (see ingest/row-hash.ts), for finding duplicate rows */
  raw_hash: number;
  rejected: boolean;
  name: string | null;
  name_norm: string | null;
  /** Normalised 18-character number when valid or converted; otherwise what survives (see id_status). */
  id_number: string | null;
  id_status: IdStatus | null;
  gender: 'M' | 'F' | null;
  birth_date: DateCol | null;
  phone: string | null;
  township: string | null;
  village: string | null;
  head_name: string | null;
  head_id_number: string | null;
  head_id_status: IdStatus | null;
  relation: string | null;
  household_no: string | null;
  insurance_no: string | null;
}

export type IdStatus =
  | 'valid'
  | 'legacy15'
  | 'checksum_failed'
  | 'masked'
  | 'spreadsheet_damaged'
  | 'missing'
  | 'malformed';

/** A row of a 死亡人员名单: the person died on this date. */
export interface DeathRowTable {
  delivery_id: number;
  row_no: number;
  died_on: DateCol | null;
}

export interface CivilRowTable {
  delivery_id: number;
  row_no: number;
  category: string | null;
  recognised_on: DateCol | null;
  exited_on: DateCol | null;
  member_status: 'active' | 'exited' | 'suspended' | null;
}

export interface RuralRowTable {
  delivery_id: number;
  row_no: number;
  household_type: string | null;
  registered_on: DateCol | null;
  year_lifted: number | null;
  monitored_since: DateCol | null;
  risk_eliminated: boolean | null;
  risk_eliminated_on: DateCol | null;
}

export interface DisabilityRowTable {
  delivery_id: number;
  row_no: number;
  cert_no: string | null;
  disability_kind: number | null;
  grade: number | null;
  issued_on: DateCol | null;
  cert_status: 'valid' | 'cancelled' | null;
  cancelled_on: DateCol | null;
  address: string | null;
}

export interface SettlementRowTable {
  delivery_id: number;
  row_no: number;
  settlement_id: string | null;
  reversed_id: string | null;
  insurance_type: string | null;
  med_type: string | null;
  institution_code: string | null;
  institution_name: string | null;
  institution_level: number | null;
  place: 'local' | 'in_province' | 'cross_province' | null;
  began_on: DateCol | null;
  ended_on: DateCol | null;
  settled_on: DateCol | null;
  total: Fen | null;
  self_paid: Fen | null;
  over_limit: Fen | null;
  in_scope: Fen | null;
  basic_paid: Fen | null;
  critical_paid: Fen | null;
  assistance_paid: Fen | null;
  other_paid: Fen | null;
  personal_burden: Fen | null;
  method: 'one_stop' | 'direct_out_of_area' | 'manual_claim' | null;
}

export interface RowProblemTable {
  id: Generated<number>;
  delivery_id: number;
  /** null for a problem with the file as a whole */
  row_no: number | null;
  severity: Severity;
  code: string;
  /** canonical field, when the problem is about one */
  field: string | null;
  /** the column header as it appears in the file */
  column_name: string | null;
  /** Chinese, for staff and for the data-quality sheet sent back to the agency; never quotes personal data */
  message: string;
}

export type LinkMethod = 'id' | 'cert_id' | 'insurance_no' | 'scored' | 'new' | 'staff' | 'pending';

export interface GoldenField {
  value: string;
  source: SourceKey;
  file: string;
  row: number;
  as_of: string;
}

export interface PersonTable {
  id: Generated<number>;
  person_key: string;
  golden: ColumnType<Record<string, GoldenField>, string | undefined, string>;
  /** the rows the golden fields came from (match/persons.ts) */
  golden_basis: ColumnType<([number, number] | null)[] | null, string | undefined, string>;
  id_number: string | null;
  name: string | null;
  gender: 'M' | 'F' | null;
  birth_date: DateCol | null;
  township: string | null;
  village: string | null;
  row_count: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  retired_at: Timestamp | null;
}

export interface MatchRunTable {
  id: Generated<number>;
  kind: string;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  params: ColumnType<unknown, string | null, string | null>;
  stats: ColumnType<unknown, string | null, string | null>;
  model_id: number | null;
}

/** One per source row: how the matcher sees the row and which person it belongs to. */
export interface RowLinkTable {
  delivery_id: number;
  row_no: number;
  name_fold: string | null;
  name_sound: string | null;
  anchor_key: string | null;
  /** null while the row waits in review */
  person_id: number | null;
  state: 'linked' | 'review';
  method: LinkMethod;
  /** match weight (log2 of the odds) of a scored link or review */
  score: number | null;
  evidence: ColumnType<unknown, string | null, string | null>;
  candidates: ColumnType<unknown, string | null, string | null>;
  run_id: number | null;
  /** the model version that scored the row (null for rows linked by an anchor or by staff) */
  model_id: number | null;
  /** the scoring pass that linked the row (null: not linked by score) */
  scored_pass: ColumnType<number | null, number | null | undefined, number | null>;
  /** no person claimed the row: it founded a person with the unclaimed rows like it */
  unclaimed: ColumnType<boolean, boolean | undefined, boolean>;
  /** linked by what its cluster of rows says together (match/pool.ts); alone it waited for review */
  pooled: ColumnType<boolean, boolean | undefined, boolean>;
}

/** A version of the match model: estimated weights and the name frequencies scored with. */
export interface MatchModelTable {
  id: Generated<number>;
  created_at: Timestamp;
  run_id: number | null;
  reason: 'first' | 'asked' | 'growth' | 'age';
  source_rows: number;
  persons: number;
  weights: ColumnType<unknown, string, string>;
}

export interface MatchModelNameTable {
  model_id: number;
  fold: string;
  persons: number;
}

/** A row whose person or state a run changed. */
export interface MatchChangeTable {
  run_id: number;
  delivery_id: number;
  row_no: number;
  from_person_id: number | null;
  to_person_id: number | null;
  from_state: string;
  to_state: string;
}

export interface MatchDecisionTable {
  id: Generated<number>;
  kind: 'confirm' | 'reject' | 'split' | 'merge';
  delivery_id: number | null;
  row_no: number | null;
  person_key: string | null;
  other_person_key: string | null;
  rows: ColumnType<[number, number][] | null, string | null, string | null>;
  actor: string;
  note: string | null;
  made_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export interface SpellTable {
  id: Generated<number>;
  person_id: number;
  category: string;
  source: SourceKey;
  valid_from: DateCol;
  valid_to: DateCol | null;
  explicit_end: boolean;
  first_listed: DateCol | null;
  recorded_at: Timestamp;
  superseded_at: Timestamp | null;
}

export interface AssessmentRunTable {
  id: Generated<number>;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  policy: ColumnType<unknown, string | null, string | null>;
  data_as_of: DateCol | null;
  stats: ColumnType<unknown, string | null, string | null>;
  /** what every person's assessment rested on besides their own data (assess/basis.ts) */
  basis: ColumnType<unknown, string | null, string | null>;
}

/** A person whose spells or assessment a scoped run must redo (db/stale.ts; migration 20261209T0900). */
export interface StalePersonTable {
  person_id: number;
  spells: boolean;
  assess: boolean;
}

/** A delivery whose status changed since the last spells run read it. */
export interface StaleDeliveryTable {
  delivery_id: number;
}

/** Anchored row → person key, kept between match runs (match/anchor-state.ts); `scored`: added by a run's scoring, removed before it commits. */
export interface LinkKeyTable {
  delivery_id: number;
  row_no: number;
  person_key: string;
  scored: Generated<boolean>;
}

export interface PersonBlockTable {
  person_key: string;
  kind: string;
  value: string;
  scored: Generated<boolean>;
}

export interface BigBlockTable {
  kind: string;
  value: string;
  scored: Generated<boolean>;
}

export interface PersonProfileTable {
  person_key: string;
  id18: string | null;
  partials: string[];
  names: string[];
  folds: string[];
  births: string[];
  genders: string[];
  head_ids: string[];
  is_self: boolean | null;
  relations: string[];
  rosters: number[];
  households: string[];
  places: string[];
  phones: string[];
}

export interface MatchAnchorStateTable {
  id: number;
  decisions: number[];
  /** the highest decision id made when the state was brought up to date */
  seen_decision: number;
  params: ColumnType<Record<string, unknown>, string, string>;
  run_id: number;
}

export interface EntitlementTable {
  settlement_id: string;
  person_id: number | null;
  delivery_id: number;
  row_no: number;
  service_date: DateCol;
  settled_on: DateCol | null;
  year: number;
  med_type: string | null;
  category: string | null;
  base: Fen;
  entitled: Fen;
  paid: Fen;
  assessed: boolean;
  calc: ColumnType<unknown, string, string>;
  /** why an overpayment is not flagged: the person's categories are unknown (a roster unreadable, held or rejected) */
  held: ColumnType<string | null, string | null | undefined, string | null | undefined>;
  run_id: number | null;
}

export type FlagKind = 'unclaimed' | 'underpaid' | 'overpaid' | 'high_burden' | 'potential_catastrophic';

export interface FlagTable {
  id: Generated<number>;
  scope: 'settlement' | 'person_year';
  settlement_id: string | null;
  person_id: number | null;
  year: number | null;
  flag: FlagKind;
  reason: string | null;
  entitled: Fen | null;
  paid: Fen | null;
  amount: Fen | null;
  raised_at: Timestamp;
  raised_run: number | null;
  raised_data_as_of: DateCol | null;
  updated_at: Timestamp | null;
  withdrawn_at: Timestamp | null;
  withdrawn_run: number | null;
  withdrawn_reason: string | null;
}

export interface ReportRunTable {
  id: Generated<number>;
  kind: string;
  created_at: Timestamp;
  requested_by: string;
  since: Timestamp | null;
  data_as_of: DateCol | null;
  persons: number;
  flags: number;
  total: Fen;
  files: ColumnType<string[], string, string>;
}

export type UserRole = 'viewer' | 'caseworker' | 'supervisor' | 'admin';
/** A user's role: a ranked one, or township staff (乡镇经办), who stand outside the ranks (server/users.ts). */
export type AppRole = UserRole | 'township';

export interface AppUserTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: AppRole;
  /** township staff's township (their cases' `outreach_case.township`); set for them only */
  township: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  disabled_at: Timestamp | null;
}

export interface ReportItemTable {
  report_run_id: number;
  flag_id: number;
  person_id: number;
  new_person: boolean;
}

export type CaseStatus = 'pending' | 'dispatched' | 'received' | 'contacted' | 'applied' | 'paid' | 'unreachable' | 'declined' | 'withdrawn';

export interface OutreachCaseTable {
  id: Generated<number>;
  flag_id: number;
  person_id: number;
  township: string | null;
  village: string | null;
  status: CaseStatus;
  /** the flag's kind and the settlement's date (null for a person-year flag), for the worklist */
  kind: FlagKind;
  settled_on: DateCol | null;
  amount: Fen;
  paid_at_open: Generated<Fen>;
  /** fen paid because of the case: the data's increase in assistance paid, or the amount staff recorded with 已支付 (挽回金额) */
  recovered: Generated<Fen>;
  /** the day staff recorded it was paid (null when the data closed the case) */
  paid_on: DateCol | null;
  opened_at: Timestamp;
  opened_month: string;
  updated_at: Timestamp;
  closed_at: Timestamp | null;
  closed_by: 'staff' | 'data' | null;
}

export interface CaseEventTable {
  id: Generated<number>;
  case_id: number;
  at: Timestamp;
  actor: string;
  from_status: CaseStatus | null;
  to_status: CaseStatus;
  note: string | null;
  /** on the event that recorded 已支付: the amount (fen) and the day paid */
  amount: Fen | null;
  paid_on: DateCol | null;
}

export interface AppSessionTable {
  token_hash: string;
  user_id: number;
  csrf_token: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  ip: string | null;
}

export interface LoginFailureTable {
  id: Generated<number>;
  username: string;
  ip: string | null;
  at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Timestamp;
  actor: string;
  action: string;
  subject: string | null;
  detail: ColumnType<unknown, string | null, string | null>;
  ip: string | null;
}

export interface DB {
  delivery: DeliveryTable;
  delivery_event: DeliveryEventTable;
  source_row: SourceRowTable;
  civil_row: CivilRowTable;
  death_row: DeathRowTable;
  rural_row: RuralRowTable;
  disability_row: DisabilityRowTable;
  settlement_row: SettlementRowTable;
  row_problem: RowProblemTable;
  person: PersonTable;
  match_run: MatchRunTable;
  row_link: RowLinkTable;
  match_model: MatchModelTable;
  match_model_name: MatchModelNameTable;
  match_change: MatchChangeTable;
  match_decision: MatchDecisionTable;
  spell: SpellTable;
  assessment_run: AssessmentRunTable;
  stale_person: StalePersonTable;
  stale_delivery: StaleDeliveryTable;
  link_key: LinkKeyTable;
  person_block: PersonBlockTable;
  big_block: BigBlockTable;
  person_profile: PersonProfileTable;
  match_anchor_state: MatchAnchorStateTable;
  entitlement: EntitlementTable;
  flag: FlagTable;
  report_run: ReportRunTable;
  app_user: AppUserTable;
  report_item: ReportItemTable;
  outreach_case: OutreachCaseTable;
  case_event: CaseEventTable;
  app_session: AppSessionTable;
  login_failure: LoginFailureTable;
  audit_log: AuditLogTable;
}

export type Delivery = Selectable<DeliveryTable>;
export type NewDelivery = Insertable<DeliveryTable>;
export type RowProblem = Selectable<RowProblemTable>;
