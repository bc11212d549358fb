/**
 * Streams the lines of a UTF-8 text file with their 1-based line numbers, holding no more than
 * one stream chunk plus the current line in memory.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { assertDataFile, toReadError } from './file-access.js';

/** One line of a text file, without its line break. */
export interface TextLine {
  readonly text: string;
  /** 1-based line number. */
  readonly line: number;
}

/**
 * Reads a text file line by line. LF and CRLF line ends are accepted; a byte-order mark is
 * dropped. Stopping the iteration closes the file.
 *
 * @param path - The file.
 * @throws DataNotFoundError when the file is missing or unreadable.
 */
export async function* readTextLines(path: string): AsyncGenerator<TextLine> {
  await assertDataFile(path);
  // With an encoding set, the stream decodes UTF-8 sequences split across chunks correctly.
  const stream = createReadStream(path, { encoding: 'utf8' });
  let line = 0;
  let rest = '';
  const lineOf = (text: string): TextLine => {
    line++;
    const end = text.charCodeAt(text.length - 1) === 13 ? text.length - 1 : text.length;
    const start = line === 1 && text.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { text: start === 0 && end === text.length ? text : text.slice(start, end), line };
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest.length === 0 ? chunk : rest + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        yield lineOf(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    if (rest.length > 0) yield lineOf(rest);
  } catch (err) {
    throw toReadError(err, path);
  } finally {
    stream.destroy();
  }
}
