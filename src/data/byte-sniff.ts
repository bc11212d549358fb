/**
 * Recognises files that are not text by their first bytes, so that a workbook, an archive or a
 * compressed file named as CSV or JSON Lines gets a message that says what it is, instead of a
 * parse error on line 1 (or, worse, a column of garbage).
 *
 * @module
 */

/** Magic numbers of the formats users most often hand over by mistake. */
const kSignatures: readonly { readonly bytes: readonly number[]; readonly what: string }[] = [
  {
    bytes: [0x1f, 0x8b],
    what: 'gzip-compressed data: name the file with a .gz ending (e.g. data.csv.gz) and mlscale decompresses it',
  },
  {
    bytes: [0x50, 0x4b, 0x03, 0x04],
    what: 'a ZIP archive (an .xlsx or .ods workbook is one): export the sheet as CSV, or unzip the archive',
  },
  {
    bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
    what: 'an Excel 97-2003 workbook (.xls): export the sheet as CSV',
  },
  {
    bytes: [0x50, 0x41, 0x52, 0x31],
    what: 'a Parquet file: write it as CSV (pandas: df.to_csv) or JSON Lines',
  },
  {
    bytes: [0x42, 0x5a, 0x68],
    what: 'bzip2-compressed data: decompress it, or recompress it with gzip (.gz)',
  },
  {
    bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    what: 'xz-compressed data: decompress it, or recompress it with gzip (.gz)',
  },
  {
    bytes: [0x28, 0xb5, 0x2f, 0xfd],
    what: 'zstd-compressed data: decompress it, or recompress it with gzip (.gz)',
  },
  {
    bytes: [...Buffer.from('SQLite format 3\0', 'latin1')],
    what: 'an SQLite database: export the table as CSV',
  },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { bytes: [0xff, 0xfe], what: 'UTF-16 text: save it as UTF-8' },
  { bytes: [0xfe, 0xff], what: 'UTF-16 text: save it as UTF-8' },
  {
    bytes: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59],
    what: 'a numpy .npy array: write it with numpy.savetxt(..., delimiter=",") or pandas to_csv',
  },
  ...[2, 3, 4, 5].map((protocol) => ({
    bytes: [0x80, protocol],
    what: 'a Python pickle: write the data as CSV (pandas: df.to_csv)',
  })),
];

/**
 * What the first bytes of a file look like when they are not text, or undefined when they may be.
 *
 * @param head - The file's first bytes (a few kB are enough).
 * @returns A phrase such as "gzip-compressed data: ..." to follow "it looks like".
 */
export function describeBinary(head: Uint8Array): string | undefined {
  for (const { bytes, what } of kSignatures) {
    if (head.length >= bytes.length && bytes.every((b, i) => head[i] === b)) return what;
  }
  // Text files hold no NUL byte (UTF-16 would, and is caught above by its byte-order mark).
  if (head.subarray(0, 4096).includes(0)) return 'binary data (it holds NUL bytes), not text';
  return undefined;
}
