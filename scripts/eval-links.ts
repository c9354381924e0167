/**
 * npm run eval:links -- --truth DIR --links F.csv
 *
 * Pairwise precision, recall and F1 of a row-to-person assignment (the CSV written
 * by `aidlink export links`) against a truth folder's rows.csv (file,row,pid), and
 * how many rows wait in review.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluatePairs } from '../src/match/evaluate.js';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : undefined;
  if (!v) {
    console.error('usage: npm run eval:links -- --truth DIR --links F.csv');
    process.exit(2);
  }
  return v;
}

/** A CSV of plain or quoted fields, first line the header. */
function readCsv(path: string): Record<string, string>[] {
  const text = readFileSync(path, 'utf8').replace(/^\ufeff/, '');
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  const [head, ...body] = rows.filter((r) => r.length > 1 || r[0] !== '');
  return body.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])));
}

const truthDir = arg('truth');
const linksFile = arg('links');
const truth = new Map(readCsv(join(truthDir, 'rows.csv')).map((r) => [`${r.file}#${r.row}`, r.pid!]));
const predicted = new Map(readCsv(linksFile).map((r) => [`${r.file}#${r.row}`, r.person_id ? r.person_id : null]));
const e = evaluatePairs(truth, predicted);
const pct = (x: number) => (x * 100).toFixed(3) + '%';
console.log(`rows              ${e.rows.toLocaleString('en')}`);
console.log(`in review         ${e.review.toLocaleString('en')} (${pct(e.review / Math.max(e.rows, 1))})`);
if (e.missing) console.log(`not in the links  ${e.missing.toLocaleString('en')}`);
console.log(`pairs: truth ${e.truthPairs.toLocaleString('en')}, linked ${e.predictedPairs.toLocaleString('en')}, correct ${e.correctPairs.toLocaleString('en')}`);
console.log(`precision         ${e.precision.toFixed(5)}`);
console.log(`recall            ${e.recall.toFixed(5)}`);
console.log(`F1                ${e.f1.toFixed(5)}`);
