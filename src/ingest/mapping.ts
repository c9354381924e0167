/**
 * Column mappings as data. The default mapping file ships with the code; a
 * deployment adds aliases and labels in files of its own (AIDLINK_MAPPING), merged
 * over it. A mapping that is invalid fails at start-up with a message naming the
 * file and the entry, never halfway through an ingest.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter as PATH_DELIMITER } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { SourceKey } from '../db/schema.js';
import { FIELDS, SOURCES, VOCABULARY_CODES, VOCABULARY_CODE_PATTERN, type AnyField, type VocabularyName } from './sources.js';
import { labelKey } from './normalise/text.js';

export const DEFAULT_MAPPING_FILE = fileURLToPath(new URL('../../config/mapping.default.yaml', import.meta.url));

const labelList = z.array(z.union([z.string(), z.number(), z.boolean()]).transform(String)).min(1);

const mappingFileSchema = z
  .object({
    sources: z
      .record(z.string(), z.object({ fields: z.record(z.string(), labelList) }).strict())
      .optional(),
    vocabularies: z.record(z.string(), z.record(z.string(), labelList)).optional(),
    title_date_keywords: z.array(z.string().min(1)).optional(),
    footer_prefixes: z.array(z.string().min(1)).optional(),
  })
  .strict();

type MappingFile = z.infer<typeof mappingFileSchema>;

export class MappingError extends Error {
  override name = 'MappingError';
}

/** The merged, validated mapping, indexed for lookups. */
export interface Mapping {
  /** per source: normalised header → field */
  readonly columns: Readonly<Record<SourceKey, ReadonlyMap<string, AnyField>>>;
  /** per source and field: the aliases as written, for messages ("可用列名：…") */
  readonly aliases: Readonly<Record<SourceKey, Readonly<Partial<Record<AnyField, readonly string[]>>>>>;
  /** per vocabulary: normalised label → code */
  readonly vocabularies: Readonly<Record<VocabularyName, ReadonlyMap<string, string>>>;
  readonly titleDateKeywords: readonly string[];
  readonly footerPrefixes: readonly string[];
  /** the deployment's files merged over the default, so that parse workers load the same mapping */
  readonly extraFiles: readonly string[];
}

function readMappingFile(path: string): MappingFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MappingError(`mapping file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      throw new MappingError(`mapping file ${path}: YAML syntax error${where}: ${err.message.split('\n')[0]}`);
    }
    throw err;
  }
  const parsed = mappingFileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new MappingError(`mapping file ${path} is invalid:\n${issues.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Loads the default mapping and merges the extra files over it, in order.
 * @param extra paths, or one string of paths separated by the platform's path delimiter
 */
export function loadMapping(extra: readonly string[] | string | undefined = undefined, defaultFile = DEFAULT_MAPPING_FILE): Mapping {
  const extras = typeof extra === 'string' ? extra.split(PATH_DELIMITER).filter(Boolean) : (extra ?? []);
  const files = [defaultFile, ...extras].map((p) => ({ path: p, doc: readMappingFile(p) }));

  const columns = Object.fromEntries(SOURCES.map((s) => [s, new Map<string, AnyField>()])) as Record<SourceKey, Map<string, AnyField>>;
  const aliases = Object.fromEntries(SOURCES.map((s) => [s, {}])) as Record<SourceKey, Partial<Record<AnyField, string[]>>>;
  const vocabularies = Object.fromEntries(
    Object.keys(VOCABULARY_CODES).map((v) => [v, new Map<string, string>()]),
  ) as Record<VocabularyName, Map<string, string>>;
  const titleDateKeywords: string[] = [];
  const footerPrefixes: string[] = [];

  for (const { path, doc } of files) {
    for (const [source, def] of Object.entries(doc.sources ?? {})) {
      if (!(SOURCES as readonly string[]).includes(source)) {
        throw new MappingError(`mapping file ${path}: unknown source "${source}" (known: ${SOURCES.join(', ')})`);
      }
      const s = source as SourceKey;
      const known: readonly string[] = FIELDS[s];
      for (const [field, names] of Object.entries(def.fields)) {
        if (!known.includes(field)) {
          throw new MappingError(`mapping file ${path}: sources.${s}.fields: unknown field "${field}" (known: ${known.join(', ')})`);
        }
        const f = field as AnyField;
        for (const name of names) {
          const key = labelKey(name);
          if (key === '') throw new MappingError(`mapping file ${path}: sources.${s}.fields.${f}: empty column name`);
          const other = columns[s].get(key);
          if (other && other !== f) {
            throw new MappingError(
              `mapping file ${path}: sources.${s}.fields.${f}: column name "${name}" already means field "${other}"`,
            );
          }
          columns[s].set(key, f);
          (aliases[s][f] ??= []).includes(name) || aliases[s][f]!.push(name);
        }
      }
    }
    for (const [vocab, codes] of Object.entries(doc.vocabularies ?? {})) {
      if (!(vocab in VOCABULARY_CODES)) {
        throw new MappingError(
          `mapping file ${path}: unknown vocabulary "${vocab}" (known: ${Object.keys(VOCABULARY_CODES).join(', ')})`,
        );
      }
      const v = vocab as VocabularyName;
      const allowed: readonly string[] | null = VOCABULARY_CODES[v];
      const pattern = VOCABULARY_CODE_PATTERN[v];
      for (const [code, labels] of Object.entries(codes)) {
        if (allowed ? !allowed.includes(code) : !pattern?.test(code)) {
          const expected = allowed ? `one of ${allowed.join(', ')}` : `matching ${String(pattern)}`;
          throw new MappingError(`mapping file ${path}: vocabularies.${v}: unknown code "${code}" (expected ${expected})`);
        }
        for (const label of labels) {
          const key = labelKey(label);
          const other = vocabularies[v].get(key);
          if (other !== undefined && other !== code) {
            throw new MappingError(`mapping file ${path}: vocabularies.${v}.${code}: label "${label}" already means "${other}"`);
          }
          vocabularies[v].set(key, code);
        }
      }
    }
    for (const k of doc.title_date_keywords ?? []) if (!titleDateKeywords.includes(k)) titleDateKeywords.push(k);
    for (const p of doc.footer_prefixes ?? []) if (!footerPrefixes.includes(p)) footerPrefixes.push(p);
  }

  for (const s of SOURCES) {
    for (const f of FIELDS[s]) {
      if (!aliases[s][f as AnyField]?.length) {
        throw new MappingError(`mapping: sources.${s}.fields.${f} has no column names; the default mapping file is incomplete`);
      }
    }
  }
  // longest first, so 截至日期 is tried before 截至
  titleDateKeywords.sort((a, b) => b.length - a.length);
  return { columns, aliases, vocabularies, titleDateKeywords, footerPrefixes, extraFiles: [...extras] };
}

/** Looks a label up in a vocabulary; undefined when the label is unknown. */
export function lookupLabel(mapping: Mapping, vocab: VocabularyName, label: string): string | undefined {
  return mapping.vocabularies[vocab].get(labelKey(label));
}
