/**
 * Deliveries, source rows with provenance, per-source details, and row problems.
 * The bulk tables (rows, details, problems) carry no foreign keys: each would cost
 * a trigger per COPY'd row, and the loader writes a row, its details and its
 * problems in one transaction, and deletes them together (see ingest/load.ts).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table delivery (
      id serial primary key,
      file text not null,
      -- null only for a rejected file whose source could not be told
      source text check (source in ('civil','rural','disability','settlement')),
      kind text check (kind in ('snapshot','delta')),
      content_hash text not null unique,
      size_bytes bigint not null,
      format text check (format in ('csv','xlsx')),
      encoding text,
      delimiter text,
      sheet text,
      header_row int,
      headers text[],
      column_map jsonb,
      as_of date,
      as_of_origin text check (as_of_origin in ('title','filename','argument')),
      received_at timestamptz not null default now(),
      status text not null check (status in ('staged','accepted','quarantined','rejected','discarded','superseded')),
      status_reason text,
      superseded_by int references delivery(id),
      decision text check (decision in ('released','discarded')),
      decided_by text,
      decided_at timestamptz,
      row_count int not null default 0,
      rejected_rows int not null default 0,
      warning_count int not null default 0,
      loaded_through_row int not null default 0,
      finished_at timestamptz,
      error text
    )`.execute(db);
  await sql`create index delivery_source_as_of on delivery (source, as_of)`.execute(db);

  await sql`
    create table delivery_event (
      id serial primary key,
      delivery_id int not null references delivery(id) on delete cascade,
      at timestamptz not null default now(),
      from_status text,
      to_status text not null,
      actor text not null,
      reason text
    )`.execute(db);
  await sql`create index delivery_event_delivery on delivery_event (delivery_id)`.execute(db);

  await sql`
    create table source_row (
      delivery_id int not null,
      row_no int not null,
      source text not null,
      raw text[] not null,
      -- a 53-bit hash of the raw cells: finding duplicate rows groups by this, not by the arrays
      raw_hash bigint not null,
      rejected boolean not null,
      name text,
      name_norm text,
      id_number text,
      id_status text,
      gender char(1),
      birth_date date,
      phone text,
      township text,
      village text,
      head_name text,
      head_id_number text,
      head_id_status text,
      relation text,
      household_no text,
      insurance_no text,
      primary key (delivery_id, row_no)
    )`.execute(db);

  await sql`
    create table civil_row (
      delivery_id int not null,
      row_no int not null,
      category text,
      recognised_on date,
      exited_on date,
      member_status text,
      primary key (delivery_id, row_no)
    )`.execute(db);

  await sql`
    create table rural_row (
      delivery_id int not null,
      row_no int not null,
      household_type text,
      registered_on date,
      year_lifted smallint,
      monitored_since date,
      risk_eliminated boolean,
      risk_eliminated_on date,
      primary key (delivery_id, row_no)
    )`.execute(db);

  await sql`
    create table disability_row (
      delivery_id int not null,
      row_no int not null,
      cert_no text,
      disability_kind smallint,
      grade smallint,
      issued_on date,
      cert_status text,
      cancelled_on date,
      address text,
      primary key (delivery_id, row_no)
    )`.execute(db);

  await sql`
    create table settlement_row (
      delivery_id int not null,
      row_no int not null,
      settlement_id text,
      reversed_id text,
      insurance_type text,
      med_type text,
      institution_code text,
      institution_name text,
      institution_level smallint,
      place text,
      began_on date,
      ended_on date,
      settled_on date,
      total bigint,
      self_paid bigint,
      over_limit bigint,
      in_scope bigint,
      basic_paid bigint,
      critical_paid bigint,
      assistance_paid bigint,
      other_paid bigint,
      personal_burden bigint,
      method text,
      primary key (delivery_id, row_no)
    )`.execute(db);

  await sql`
    create table row_problem (
      id bigserial primary key,
      delivery_id int not null,
      row_no int,
      severity text not null check (severity in ('error','warning')),
      code text not null,
      field text,
      column_name text,
      message text not null
    )`.execute(db);
  await sql`create index row_problem_delivery_row on row_problem (delivery_id, row_no)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['row_problem', 'settlement_row', 'disability_row', 'rural_row', 'civil_row', 'source_row', 'delivery_event', 'delivery']) {
    await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
  }
}
