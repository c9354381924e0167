/**
 * LibreOffice and poppler for the tests that print what we write: an XLSX converted to PDF
 * as a spreadsheet program prints it, and the PDF's text page by page. Tests skip without
 * them, except in CI (.ci/run installs them).
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run } from './process.js';

export function onPath(command: string): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(d, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export const libreoffice = onPath('soffice') ?? onPath('libreoffice');
export const pdftotext = onPath('pdftotext');

/** The XLSX as LibreOffice prints it (every sheet), or an error naming what went wrong. */
export async function convertToPdf(xlsx: string): Promise<{ pdf: Buffer; ms: number }> {
  if (!libreoffice) throw new Error('LibreOffice is required: apt-get install -y libreoffice-calc-nogui fonts-noto-cjk');
  const work = mkdtempSync(join(tmpdir(), 'aidlink-lo-'));
  try {
    const started = performance.now();
    // a profile of its own: parallel runs would otherwise fight over one
    const result = await run(
      libreoffice,
      [`-env:UserInstallation=${pathToFileURL(join(work, 'profile')).href}`, '--headless', '--convert-to', 'pdf', '--outdir', work, xlsx],
      { timeout: 120_000 },
    );
    const ms = performance.now() - started;
    if (result.code !== 0) throw new Error(`libreoffice exited ${result.code}: ${result.err}${result.out}`);
    const pdf = join(work, basename(xlsx).replace(/\.xlsx$/, '.pdf'));
    if (!existsSync(pdf) || statSync(pdf).size < 1024) throw new Error(`no PDF: ${result.out}${result.err}`);
    return { pdf: readFileSync(pdf), ms };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** pdftotext on a PDF: its text with the layout kept (`-layout`), or its words with their boxes (`-bbox`). */
async function pdfToText(pdf: Buffer, mode: '-layout' | '-bbox'): Promise<string> {
  if (!pdftotext) throw new Error('pdftotext is required: apt-get install -y poppler-utils');
  const work = mkdtempSync(join(tmpdir(), 'aidlink-pdf-'));
  try {
    const file = join(work, 'in.pdf');
    writeFileSync(file, pdf);
    const result = await run(pdftotext, [mode, '-enc', 'UTF-8', file, '-'], { timeout: 60_000 });
    if (result.code !== 0) throw new Error(`pdftotext exited ${result.code}: ${result.err}`);
    return result.out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The text of each page, in order. */
export async function pdfPages(pdf: Buffer): Promise<string[]> {
  const pages = (await pdfToText(pdf, '-layout')).split('\f');
  // the text ends with a form feed: no page after it
  if (pages.at(-1)?.trim() === '') pages.pop();
  return pages;
}

export interface PdfWord {
  page: number;
  text: string;
  /** points */
  width: number;
  height: number;
}

/** Every word with its box, pages counted from 1. */
export async function pdfWords(pdf: Buffer): Promise<PdfWord[]> {
  const xml = await pdfToText(pdf, '-bbox');
  const words: PdfWord[] = [];
  let page = 0;
  for (const line of xml.split('\n')) {
    if (line.includes('<page ')) page++;
    const m = /<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/.exec(line);
    if (m) words.push({ page, text: m[5]!, width: Number(m[3]) - Number(m[1]), height: Number(m[4]) - Number(m[2]) });
  }
  return words;
}
