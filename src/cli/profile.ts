/**
 * `aidlink profile check <file>`: which format profile reads a file, how its columns map,
 * and its first problems, without ingesting it (docs/ingest.md, 格式配置). It loads the
 * configuration and the mapping only: no database.
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { loadConfig } from '../config.js';
import { checkFile, DEFAULT_SAMPLE_ROWS, type CheckResult } from '../ingest/check.js';
import { loadMapping } from '../ingest/mapping.js';
import type { Problem } from '../ingest/problems.js';
import { FIELD_LABEL, SOURCE_LABEL } from '../ingest/sources.js';
import type { AsOfOrigin, SourceKey } from '../db/schema.js';
import { deliveryOptions, parsePositiveInt } from './common.js';

const ORIGIN: Record<AsOfOrigin, string> = { title: '来自标题行', filename: '来自文件名', argument: '来自 --as-of' };

/** A path as the engineer would type it: relative to the working folder when under it. */
function shownPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

function fileKind(r: CheckResult): string {
  if (r.format === 'xlsx') return `XLSX${r.sheet ? `，工作表「${r.sheet}」` : ''}`;
  if (r.format === 'csv') {
    const enc = r.encoding === 'gb18030' ? 'GB18030' : r.encoding === 'utf-8' ? `UTF-8${r.bom ? '，带 BOM' : ''}` : (r.encoding ?? '');
    const delimiter = r.delimiter === '\t' ? '，制表符分隔' : '';
    return `CSV，${enc}${delimiter}`;
  }
  return '无法读取的文件';
}

function problemLine(p: Problem): string {
  const where = p.rowNo === null ? '' : `第 ${p.rowNo} 行`;
  // a message names its column already, as a rule
  const column = p.column && !p.message.includes(`「${p.column}」`) ? `列「${p.column}」` : '';
  const head = [where, column].filter(Boolean).join(' ');
  const severity = p.severity === 'error' ? '错误' : '警告';
  return `  ${head ? `${head} ` : ''}${severity}：${p.message}（${p.code}）`;
}

/** The check as a terminal shows it, in Chinese. */
export function formatCheck(r: CheckResult): string {
  const out: string[] = [];
  out.push(`文件：${r.file}（${fileKind(r)}）`);
  if (r.profile) {
    const p = r.profile;
    const name = p.isDefault ? `${p.name}（${p.title}，默认格式）` : p.title !== p.name ? `${p.name}（${p.title}）` : p.name;
    out.push(`格式：${name}，来源 ${p.source}（${SOURCE_LABEL[p.source]}），系列 ${p.stream}，定义于 ${shownPath(p.file)}`);
  } else if (r.source) {
    out.push(`来源：${r.source}（${SOURCE_LABEL[r.source]}）`);
  }
  if (r.headerRowNo !== null) {
    out.push(`表头：第 ${r.headerRowNo} 行`);
    for (const c of r.columns) {
      const header = c.header === '' ? `（第 ${c.column} 列，无列名）` : c.header;
      let use: string;
      switch (c.use) {
        case 'field':
          use = `${c.field} ${c.label}`;
          break;
        case 'sum':
          use = `${c.field} ${c.label}（与 ${c.others.map((o) => `「${o.header}」`).join('、')} 相加）`;
          break;
        case 'range':
          use = `${c.field} ${c.label} 至 ${c.rangeTo} ${c.rangeTo ? FIELD_LABEL[c.rangeTo] : ''}（一格中的起止日期）`;
          break;
        case 'duplicate':
          use = `未使用（${c.field} ${c.label} 已由第 ${c.others[0]?.column} 列「${c.others[0]?.header}」读取）`;
          break;
        case 'unused':
          use = '未使用';
          break;
      }
      out.push(`  ${header} → ${use}`);
    }
  }
  if (r.missing.length > 0) {
    out.push('缺少必需列：');
    for (const m of r.missing) out.push(`  ${m.field} ${m.label}（可用列名：${m.aliases.join('、') || '无'}）`);
  }
  if (r.asOf) out.push(`截至日期：${r.asOf.date}（${ORIGIN[r.asOf.origin]}）`);
  else if (r.rejection?.code === 'as_of_not_found') out.push('截至日期：无法确定');
  if (r.notes.length > 0) {
    out.push('说明：');
    for (const n of r.notes) out.push(`  ${n.message}`);
  }
  const s = r.sample;
  if (s) {
    const scope = s.endOfFile ? `全部 ${s.rows} 行` : `前 ${s.limit} 行`;
    out.push(s.rows === 0 ? '数据行：没有' : `${scope}：${s.usable} 行可用，${s.rejected} 行被拒，${s.withWarnings} 行有警告`);
    if (s.counts.length > 0) {
      out.push(`问题（${s.counts.map((c) => `${c.code} ${c.count}`).join('，')}）：`);
      for (const p of s.problems) out.push(problemLine(p));
      const total = s.counts.reduce((n, c) => n + c.count, 0);
      if (total > s.problems.length) out.push(`  …… 另有 ${total - s.problems.length} 个`);
    }
  }
  out.push(r.wouldIngest ? '结论：可以导入' : `结论：会被拒收：${r.rejection?.message ?? ''}`);
  return out.join('\n') + '\n';
}

export function registerProfileCommands(program: Command): void {
  const profile = program
    .command('profile')
    .description('format profiles (格式配置): check how a file would be read')
    // exit 1 means "this file would be rejected": a usage error exits 2
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  deliveryOptions(
    profile
      .command('check')
      .description('which format profile reads a file, how its columns map, its as-of date and first problems; ingests nothing (exit 1: it would be rejected)')
      .argument('<file>', 'a delivered file (CSV or XLSX)'),
  )
    .option('--rows <n>', 'data rows to parse', parsePositiveInt, DEFAULT_SAMPLE_ROWS)
    .option('--json', 'print the result as JSON')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (file: string, opts: { source?: SourceKey; asOf?: string; inbox?: string; rows: number; json?: boolean }) => {
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) {
        process.stderr.write(`aidlink: 不是文件：${file}\n`);
        process.exitCode = 2;
        return;
      }
      // the configuration and the mapping only: a check never opens the database
      const config = loadConfig();
      const mapping = loadMapping(config.AIDLINK_MAPPING);
      const result = await checkFile(mapping, file, { source: opts.source, asOf: opts.asOf, inboxRoot: opts.inbox, sampleRows: opts.rows });
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : formatCheck(result));
      if (!result.wouldIngest) process.exitCode = 1;
    });
}
