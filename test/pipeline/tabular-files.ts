/**
 * A test fixture: the same 1,200 rows as CSV (CRLF, quoted fields with line breaks and quotes,
 * a non-ASCII category) and as JSON Lines, written into `dir` as tabular.csv and tabular.jsonl.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes the two files and returns their paths. */
export async function writeTabularFiles(dir: string): Promise<{ csv: string; jsonl: string }> {
  let csv = 'a,b,note,city,y\r\n';
  let jsonl = '';
  for (let i = 0; i < 1200; i++) {
    const a = ((i * 37) % 101) / 10;
    const b = ((i * 53) % 97) / 7 - 5;
    const city = ['Oslo', 'Rome', 'Lima', 'Åre'][i % 4]!;
    const y = a + b > 8 ? 'high' : a > 5 ? 'mid' : 'low';
    const note = i % 5 === 0 ? '"two\r\nlines, and ""quotes"" in it"' : 'x';
    csv += `${a},${b},${note},${city},${y}\r\n`;
    jsonl += `${JSON.stringify({ a, b, city, y })}\n`;
  }
  const paths = { csv: join(dir, 'tabular.csv'), jsonl: join(dir, 'tabular.jsonl') };
  await writeFile(paths.csv, csv);
  await writeFile(paths.jsonl, jsonl);
  return paths;
}
