/**
 * Column mappings and format profiles as data. The default mapping file ships with
 * the code: each source's default profile (the spec's format) and the shared label
 * vocabularies. A deployment adds aliases, labels and profiles of its own real exports
 * in files of its own (AIDLINK_MAPPING), merged over it (docs/ingest.md). A mapping
 * that is invalid fails at start-up with a Chinese message naming the file and the
 * entry, never halfway through an ingest.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter as PATH_DELIMITER } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { SourceKey } from '../db/schema.js';
import {
  DATE_FIELDS, FIELD_LABEL, FIELDS, IDENTITY_FIELDS, isSourceKey, MONEY_FIELDS, PROFILE_REQUIRED_COLUMNS, REQUIRED_COLUMNS, SOURCE_LABEL, SOURCES, VOCABULARY_CODES,
  VOCABULARY_CODE_PATTERN, type AnyField, type VocabularyName,
} from './sources.js';
import { labelKey, valueKey } from './normalise/text.js';

export const DEFAULT_MAPPING_FILE = fileURLToPath(new URL('../../config/mapping.default.yaml', import.meta.url));

const labelList = z.array(z.union([z.string(), z.number(), z.boolean()]).transform(String)).min(1);

/**
 * A deployment's description of one export format (docs/ingest.md, 格式配置). Its column
 * names are its own: they never change how another format's columns read.
 */
const profileSchema = z
  .object({
    /** the export's name for staff (defaults to the profile's key) */
    title: z.string().min(1).optional(),
    source: z.string(),
    /** snapshots supersede only earlier snapshots of their own stream; defaults to the source's main stream */
    stream: z.string().min(1).optional(),
    /** the profile applies only to files whose name matches one of these (`*` any characters) */
    file_names: z.array(z.string().min(1)).min(1).optional(),
    columns: z.record(z.string(), labelList),
    /** an amount paid in several columns: their sum */
    sums: z.record(z.string(), labelList).optional(),
    /** a column holding two dates (2026-04-01至2026-04-10): which fields its start and end are */
    ranges: z.array(z.object({ columns: labelList, from: z.string(), to: z.string() }).strict()).optional(),
    /** dates that may give only the month: read as its first day (start) or its last (end) */
    months: z.record(z.string(), z.enum(['start', 'end'])).optional(),
    /** the columns without which a file is rejected; defaults to what the rows cannot do without (PROFILE_REQUIRED_COLUMNS) */
    required: z.array(z.string()).optional(),
    /** labels this export uses, per vocabulary and code, besides the shared ones (vocabularies) */
    labels: z.record(z.string(), z.record(z.string(), labelList)).optional(),
    /** text this export appends to labels, dropped before they are looked up: 低保对象（救助） */
    label_suffixes: z.array(z.string().min(1)).optional(),
  })
  .strict();

const mappingFileSchema = z
  .object({
    sources: z
      .record(z.string(), z.object({ fields: z.record(z.string(), labelList) }).strict())
      .optional(),
    profiles: z.record(z.string(), profileSchema).optional(),
    vocabularies: z.record(z.string(), z.record(z.string(), labelList)).optional(),
    title_date_keywords: z.array(z.string().min(1)).optional(),
    footer_prefixes: z.array(z.string().min(1)).optional(),
  })
  .strict();

type MappingFile = z.infer<typeof mappingFileSchema>;

export class MappingError extends Error {
  override name = 'MappingError';
}

/**
 * How one export format reads: which columns are which fields, which amounts are sums of
 * columns, which dates may give only a month, which columns it must have. Each source has
 * a default profile (the spec's format, named after the source); a deployment adds its own.
 */
export interface Profile {
  /** the key in the mapping file; a source's default profile is named after the source */
  readonly name: string;
  /** for staff: the profile's title, or its key */
  readonly title: string;
  readonly source: SourceKey;
  /** the snapshots a snapshot supersedes are its stream's (several rosters of one agency coexist) */
  readonly stream: string;
  /** null: any file */
  readonly fileNames: readonly RegExp[] | null;
  /** normalised header → field */
  readonly columns: ReadonlyMap<string, AnyField>;
  /** per field: its column names as written, for messages (可用列名：…) */
  readonly aliases: Readonly<Partial<Record<AnyField, readonly string[]>>>;
  /** per amount field: the normalised headers of the columns it is the sum of */
  readonly sums: Readonly<Partial<Record<AnyField, readonly string[]>>>;
  readonly months: Readonly<Partial<Record<AnyField, 'start' | 'end'>>>;
  /** columns holding two dates: their normalised headers, and the fields of their start and end */
  readonly ranges: readonly { readonly keys: readonly string[]; readonly from: AnyField; readonly to: AnyField }[];
  readonly required: readonly AnyField[];
  /** the profile's own labels (valueKey → code), looked up before the shared vocabularies */
  readonly labels: Readonly<Partial<Record<VocabularyName, ReadonlyMap<string, string>>>>;
  /** valueKeys of suffixes dropped from a label that is not known with them */
  readonly labelSuffixes: readonly string[];
  /** the mapping file that defined it (a default profile: the default mapping file) */
  readonly file: string;
  readonly isDefault: boolean;
}

/** The merged, validated mapping, indexed for lookups. */
export interface Mapping {
  /** the deployment's profiles first, then each source's default profile */
  readonly profiles: readonly Profile[];
  /** per vocabulary: normalised label → code */
  readonly vocabularies: Readonly<Record<VocabularyName, ReadonlyMap<string, string>>>;
  readonly titleDateKeywords: readonly string[];
  readonly footerPrefixes: readonly string[];
  /** the deployment's files merged over the default, so that parse workers load the same mapping */
  readonly extraFiles: readonly string[];
}

/** A source's default profile: the spec's format with the aliases every mapping file adds. */
export function sourceProfile(mapping: Mapping, source: SourceKey): Profile {
  return mapping.profiles.find((p) => p.isDefault && p.source === source)!;
}

export function profileNamed(mapping: Mapping, name: string): Profile {
  const p = mapping.profiles.find((x) => x.name === name);
  if (!p) throw new MappingError(`没有名为「${name}」的格式配置`);
  return p;
}

function readMappingFile(path: string): MappingFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MappingError(`列名映射文件 ${path} 无法读取（${(err as NodeJS.ErrnoException).code ?? String(err)}）`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0] ? `第 ${err.linePos[0].line} 行第 ${err.linePos[0].col} 列` : '';
      throw new MappingError(`列名映射文件 ${path}：YAML 格式错误${where ? `（${where}）` : ''}：${err.message.split('\n')[0]}`);
    }
    throw err;
  }
  const parsed = mappingFileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '（顶层）'}：${issueText(i)}`);
    throw new MappingError(`列名映射文件 ${path} 的内容不符合要求：\n${issues.join('\n')}`);
  }
  return parsed.data;
}

/** A schema problem in Chinese, for the deployment engineer who wrote the file. */
function issueText(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case 'invalid_type':
      return /received undefined/.test(i.message) ? '缺少这一项' : `应为${TYPE_LABEL[i.expected] ?? i.expected}`;
    case 'unrecognized_keys':
      return `不认识的项：${i.keys.join('、')}`;
    case 'too_small':
      return i.origin === 'array' ? `至少要有 ${String(i.minimum)} 项` : '不能为空';
    case 'invalid_value':
      return `只能是 ${i.values.map(String).join('、')} 之一`;
    default:
      return i.message;
  }
}

const TYPE_LABEL: Record<string, string> = { record: '键值表', string: '文字', number: '数字', array: '列表（[…]）', object: '键值表', null: '空', boolean: '是/否' };

/** `*` matches any characters; the rest literally. */
function fileNamePattern(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
}

/** Column names → fields for one profile (or a source's defaults), refusing a name that means two fields. */
class ColumnIndex {
  readonly columns = new Map<string, AnyField>();
  readonly aliases: Partial<Record<AnyField, string[]>> = {};

  constructor(private readonly known: readonly string[], private readonly where: string) {}

  add(path: string, field: string, names: readonly string[]): void {
    if (!this.known.includes(field)) {
      throw new MappingError(`列名映射文件 ${path}：${this.where}：不认识的字段「${field}」（可用字段：${this.known.join('、')}）`);
    }
    const f = field as AnyField;
    for (const name of names) {
      const key = labelKey(name);
      if (key === '') throw new MappingError(`列名映射文件 ${path}：${this.where}.${f}：列名为空`);
      this.refuseTaken(path, `${this.where}.${f}`, name, f);
      this.columns.set(key, f);
      if (!(this.aliases[f] ??= []).includes(name)) this.aliases[f]!.push(name);
    }
  }

  /** Refuses a column name that already means a field (other than `unless`). */
  refuseTaken(path: string, where: string, name: string, unless?: AnyField): void {
    const other = this.columns.get(labelKey(name));
    if (other && other !== unless) {
      throw new MappingError(`列名映射文件 ${path}：${where}：列名「${name}」已经表示字段「${other}」（${FIELD_LABEL[other]}）`);
    }
  }
}

/**
 * Loads the default mapping and merges the extra files over it, in order.
 * @param extra paths, or one string of paths separated by the platform's path delimiter
 */
export function loadMapping(extra: readonly string[] | string | undefined = undefined, defaultFile = DEFAULT_MAPPING_FILE): Mapping {
  const extras = typeof extra === 'string' ? extra.split(PATH_DELIMITER).filter(Boolean) : (extra ?? []);
  const files = [defaultFile, ...extras].map((p) => ({ path: p, doc: readMappingFile(p) }));

  const sourceColumns = Object.fromEntries(SOURCES.map((s) => [s, new ColumnIndex(FIELDS[s], `sources.${s}.fields`)])) as Record<SourceKey, ColumnIndex>;
  const vocabularies = Object.fromEntries(
    Object.keys(VOCABULARY_CODES).map((v) => [v, new Map<string, string>()]),
  ) as Record<VocabularyName, Map<string, string>>;
  const titleDateKeywords: string[] = [];
  const footerPrefixes: string[] = [];
  const deployed: Profile[] = [];

  for (const { path, doc } of files) {
    for (const [source, def] of Object.entries(doc.sources ?? {})) {
      if (!isSourceKey(source)) {
        throw new MappingError(`列名映射文件 ${path}：不认识的来源「${source}」（可用来源：${SOURCES.join('、')}）`);
      }
      for (const [field, names] of Object.entries(def.fields)) sourceColumns[source].add(path, field, names);
    }
    for (const [name, def] of Object.entries(doc.profiles ?? {})) {
      if (isSourceKey(name) || deployed.some((p) => p.name === name)) {
        throw new MappingError(`列名映射文件 ${path}：profiles.${name}：格式名「${name}」已被使用，请换一个`);
      }
      deployed.push(buildProfile(path, name, def));
    }
    addLabels(path, 'vocabularies', doc.vocabularies ?? {}, vocabularies);
    for (const k of doc.title_date_keywords ?? []) if (!titleDateKeywords.includes(k)) titleDateKeywords.push(k);
    for (const p of doc.footer_prefixes ?? []) if (!footerPrefixes.includes(p)) footerPrefixes.push(p);
  }

  const defaults = SOURCES.map((s): Profile => {
    const index = sourceColumns[s];
    for (const f of FIELDS[s]) {
      if (!index.aliases[f as AnyField]?.length) {
        throw new MappingError(`列名映射：sources.${s}.fields.${f} 没有列名，默认映射文件不完整`);
      }
    }
    return {
      name: s, title: SOURCE_LABEL[s], source: s, stream: s, fileNames: null, columns: index.columns, aliases: index.aliases,
      sums: {}, months: {}, ranges: [], required: REQUIRED_COLUMNS[s], labels: {}, labelSuffixes: [], file: defaultFile, isDefault: true,
    };
  });
  // longest first, so 截至日期 is tried before 截至
  titleDateKeywords.sort((a, b) => b.length - a.length);
  return { profiles: [...deployed, ...defaults], vocabularies, titleDateKeywords, footerPrefixes, extraFiles: [...extras] };
}

/** Adds `vocabulary → code → labels` to the maps, refusing an unknown vocabulary or code and a label meaning two codes. */
function addLabels(
  path: string,
  where: string,
  entries: Record<string, Record<string, string[]>>,
  into: Partial<Record<VocabularyName, Map<string, string>>>,
): void {
  for (const [vocab, codes] of Object.entries(entries)) {
    if (!(vocab in VOCABULARY_CODES)) {
      throw new MappingError(`列名映射文件 ${path}：${where}：不认识的词表「${vocab}」（可用词表：${Object.keys(VOCABULARY_CODES).join('、')}）`);
    }
    const v = vocab as VocabularyName;
    const allowed: readonly string[] | null = VOCABULARY_CODES[v];
    const pattern = VOCABULARY_CODE_PATTERN[v];
    const map = (into[v] ??= new Map());
    for (const [code, labels] of Object.entries(codes)) {
      if (allowed ? !allowed.includes(code) : !pattern?.test(code)) {
        const expected = allowed ? `可用代码：${allowed.join('、')}` : `代码须符合 ${String(pattern)}`;
        throw new MappingError(`列名映射文件 ${path}：${where}.${v}：不认识的代码「${code}」（${expected}）`);
      }
      for (const label of labels) {
        const key = valueKey(label);
        const other = map.get(key);
        if (other !== undefined && other !== code) {
          throw new MappingError(`列名映射文件 ${path}：${where}.${v}.${code}：取值「${label}」已经表示「${other}」`);
        }
        map.set(key, code);
      }
    }
  }
}

function buildProfile(path: string, name: string, def: z.infer<typeof profileSchema>): Profile {
  const where = `profiles.${name}`;
  if (!isSourceKey(def.source)) {
    throw new MappingError(`列名映射文件 ${path}：${where}.source：不认识的来源「${def.source}」（可用来源：${SOURCES.join('、')}）`);
  }
  const source = def.source;
  const known: readonly string[] = FIELDS[source];
  const index = new ColumnIndex(known, `${where}.columns`);
  for (const [field, names] of Object.entries(def.columns)) index.add(path, field, names);
  const sums: Partial<Record<AnyField, string[]>> = {};
  for (const [field, names] of Object.entries(def.sums ?? {})) {
    if (!(MONEY_FIELDS as readonly string[]).includes(field) || !known.includes(field)) {
      throw new MappingError(`列名映射文件 ${path}：${where}.sums：「${field}」不是${SOURCE_LABEL[source]}的金额字段（金额字段：${MONEY_FIELDS.filter((f) => known.includes(f)).join('、')}）`);
    }
    if (index.aliases[field as AnyField]) {
      throw new MappingError(`列名映射文件 ${path}：${where}.sums.${field}：这个字段已在 columns 中对应一列，不能再由几列相加`);
    }
    for (const n of names) index.refuseTaken(path, `${where}.sums.${field}`, n);
    sums[field as AnyField] = names.map(labelKey);
  }
  const months: Partial<Record<AnyField, 'start' | 'end'>> = {};
  for (const [field, end] of Object.entries(def.months ?? {})) {
    if (!(DATE_FIELDS as readonly string[]).includes(field) || !known.includes(field)) {
      throw new MappingError(`列名映射文件 ${path}：${where}.months：「${field}」不是${SOURCE_LABEL[source]}的日期字段`);
    }
    months[field as AnyField] = end;
  }
  const ranges = (def.ranges ?? []).map((r, i) => {
    for (const f of [r.from, r.to]) {
      if (!(DATE_FIELDS as readonly string[]).includes(f) || !known.includes(f)) {
        throw new MappingError(`列名映射文件 ${path}：${where}.ranges.${i}：「${f}」不是${SOURCE_LABEL[source]}的日期字段`);
      }
      if (index.aliases[f as AnyField]) throw new MappingError(`列名映射文件 ${path}：${where}.ranges.${i}：字段「${f}」已在 columns 中对应一列`);
    }
    for (const n of r.columns) index.refuseTaken(path, `${where}.ranges.${i}`, n);
    return { keys: r.columns.map(labelKey), from: r.from as AnyField, to: r.to as AnyField };
  });
  const inRange = (f: string) => ranges.some((r) => r.from === f || r.to === f);
  for (const f of IDENTITY_FIELDS[source]) {
    if (!index.aliases[f]) throw new MappingError(`列名映射文件 ${path}：${where}.columns：缺少「${f}」（${FIELD_LABEL[f]}）的列名：没有它认不出人`);
  }
  const required = (def.required ?? PROFILE_REQUIRED_COLUMNS[source]) as readonly string[];
  for (const f of required) {
    if (!known.includes(f)) throw new MappingError(`列名映射文件 ${path}：${where}.required：不认识的字段「${f}」（可用字段：${known.join('、')}）`);
    if (!index.aliases[f as AnyField] && !sums[f as AnyField] && !inRange(f)) {
      throw new MappingError(`列名映射文件 ${path}：${where}.required：必需字段「${f}」在 columns、sums 和 ranges 中都没有列名`);
    }
  }
  const labels: Partial<Record<VocabularyName, Map<string, string>>> = {};
  addLabels(path, `${where}.labels`, def.labels ?? {}, labels);
  return {
    name, title: def.title ?? name, source, stream: def.stream ?? source, labels, labelSuffixes: (def.label_suffixes ?? []).map(valueKey),
    fileNames: def.file_names?.map(fileNamePattern) ?? null,
    columns: index.columns, aliases: index.aliases, sums, months, ranges, required: required as AnyField[], file: path, isDefault: false,
  };
}

/**
 * Looks a label up: in the profile's own labels, then the shared vocabulary, then both
 * again without a suffix the profile drops. Undefined when the label is unknown.
 */
export function lookupLabel(mapping: Mapping, vocab: VocabularyName, label: string, profile?: Profile): string | undefined {
  const find = (key: string) => profile?.labels[vocab]?.get(key) ?? mapping.vocabularies[vocab].get(key);
  const key = valueKey(label);
  const code = find(key);
  if (code !== undefined || !profile) return code;
  for (const suffix of profile.labelSuffixes) if (key.endsWith(suffix) && key.length > suffix.length) return find(key.slice(0, -suffix.length));
  return undefined;
}
