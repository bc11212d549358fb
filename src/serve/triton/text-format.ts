/**
 * A parser for the protocol buffers text format (the syntax of Triton's `config.pbtxt`), without a
 * schema: it gives every field as the list of values it was given (repeated fields repeat), each
 * with its line and column, and leaves types to the reader (triton/config-pbtxt.ts).
 *
 * No npm package parses the text format: protobufjs and @bufbuild/protobuf read the binary and
 * JSON encodings only. The grammar is the one the protobuf documentation gives
 * (https://protobuf.dev/reference/protobuf/textformat-spec/): `#` comments; `name: scalar`;
 * `name { ... }` or `name < ... >` (the colon optional); lists `name: [a, b]`; fields separated by
 * whitespace, `,` or `;`; strings in single or double quotes with C escapes, adjacent strings
 * concatenated; numbers decimal, hex, octal or float, with `inf` and `nan`; identifiers for enums
 * and booleans. Extension and `Any` names (`[pkg.Type]`) are refused with a message.
 *
 * @module
 */

/** Where a token or value starts, for messages: 1-based line and column. */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** A scalar value as written: a number, a string, or an identifier (an enum value, `true`, ...). */
export type TextScalar =
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'identifier'; readonly value: string };

/** A field's value: a scalar, or a nested message. */
export type TextValue = (TextScalar | { readonly kind: 'message'; readonly fields: TextMessage }) &
  TextPosition;

/** A message: each field name with its values, in the order given. */
export type TextMessage = ReadonlyMap<string, readonly TextValue[]>;

/** A text-format syntax error, with the position it was found at. */
export class TextFormatSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: TextPosition,
  ) {
    super(`${position.line}:${position.column}: ${message}`);
    this.name = 'TextFormatSyntaxError';
  }
}

type Token = TextPosition &
  (
    | { readonly type: 'identifier'; readonly text: string }
    | { readonly type: 'number'; readonly text: string }
    | { readonly type: 'string'; readonly value: string }
    | { readonly type: 'symbol'; readonly text: string }
    | { readonly type: 'end' }
  );

/** Most nested messages accepted: a guard against a stack overflow on hostile input. */
const kMaxDepth = 100;

/**
 * Parses text-format source into its fields.
 * @throws {TextFormatSyntaxError} naming the line and column and what was expected.
 */
export function parseTextFormat(source: string): TextMessage {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const fail = (token: Token, expected: string): never => {
    throw new TextFormatSyntaxError(`expected ${expected}, got ${describe(token)}`, token);
  };
  const isSymbol = (token: Token, text: string): boolean =>
    token.type === 'symbol' && token.text === text;

  const parseMessage = (close: string | undefined, depth: number): TextMessage => {
    if (depth > kMaxDepth) fail(peek(), `at most ${kMaxDepth} nested messages`);
    const fields = new Map<string, TextValue[]>();
    for (;;) {
      const token = peek();
      if (close === undefined ? token.type === 'end' : isSymbol(token, close)) {
        next();
        return fields;
      }
      if (token.type === 'end') fail(token, `"${close}" to close the message`);
      if (isSymbol(token, '['))
        throw new TextFormatSyntaxError(
          'extension and Any fields ([...]) are not supported',
          token,
        );
      if (token.type !== 'identifier')
        fail(token, close === undefined ? 'a field name' : `a field name or "${close}"`);
      next();
      const name = (token as { text: string }).text;
      const values = fields.get(name) ?? [];
      fields.set(name, values);
      const colon = isSymbol(peek(), ':');
      if (colon) next();
      const start = peek();
      if (isSymbol(start, '[')) {
        next();
        if (isSymbol(peek(), ']')) next();
        else {
          for (;;) {
            values.push(parseValue(colon, depth));
            const sep = next();
            if (isSymbol(sep, ']')) break;
            if (!isSymbol(sep, ',')) fail(sep, '"," or "]" in the list');
          }
        }
      } else {
        values.push(parseValue(colon, depth));
      }
      if (isSymbol(peek(), ',') || isSymbol(peek(), ';')) next();
    }
  };

  const parseValue = (colon: boolean, depth: number): TextValue => {
    const token = next();
    const position = { line: token.line, column: token.column };
    if (isSymbol(token, '{') || isSymbol(token, '<')) {
      const close = isSymbol(token, '{') ? '}' : '>';
      return { kind: 'message', fields: parseMessage(close, depth + 1), ...position };
    }
    if (!colon) fail(token, '":" before a scalar value, or "{" to open a message');
    if (isSymbol(token, '-')) {
      const number = next();
      if (number.type === 'number') return { ...numberValue(number, true), ...position };
      if (number.type === 'identifier' && /^(inf|infinity)$/i.test(number.text))
        return { kind: 'number', value: -Infinity, text: `-${number.text}`, ...position };
      return fail(number, 'a number after "-"');
    }
    if (token.type === 'number') return { ...numberValue(token, false), ...position };
    if (token.type === 'identifier') return { kind: 'identifier', value: token.text, ...position };
    if (token.type === 'string') {
      let value = token.value;
      // Adjacent strings are one string, as in C.
      while (peek().type === 'string') value += (next() as { value: string }).value;
      return { kind: 'string', value, ...position };
    }
    return fail(token, 'a value');
  };

  return parseMessage(undefined, 0);
}

function numberValue(
  token: Token & { type: 'number' },
  negative: boolean,
): TextScalar & { kind: 'number' } {
  const raw = token.text.replace(/[fFuUlL]+$/, (suffix) =>
    // `1f` is a float; a hex number's f is a digit, kept.
    /^0[xX]/.test(token.text) ? suffix : '',
  );
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(raw)) value = parseInt(raw.slice(2), 16);
  else if (/^0[0-7]+$/.test(raw)) value = parseInt(raw.slice(1), 8);
  else value = Number(raw);
  if (Number.isNaN(value))
    throw new TextFormatSyntaxError(`invalid number ${JSON.stringify(token.text)}`, token);
  return {
    kind: 'number',
    value: negative ? -value : value,
    text: negative ? `-${token.text}` : token.text,
  };
}

function describe(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'the end of the file';
    case 'string':
      return `the string ${JSON.stringify(token.value)}`;
    default:
      return JSON.stringify(token.text);
  }
}

const kEscapes: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    const position = { line, column: i - lineStart + 1 };
    if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(source.slice(i))!;
      tokens.push({ type: 'identifier', text: match[0], ...position });
      i += match[0].length;
      continue;
    }
    if (/[0-9.]/.test(c) && /^\.?[0-9]/.test(source.slice(i, i + 2))) {
      const match =
        /^(0[xX][0-9a-fA-F]+|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFuUlL]*/.exec(
          source.slice(i),
        )!;
      const after = source[i + match[0].length];
      if (after !== undefined && /[A-Za-z0-9_.]/.test(after))
        throw new TextFormatSyntaxError(
          `invalid number ${JSON.stringify(source.slice(i, i + match[0].length + 1))}`,
          position,
        );
      tokens.push({ type: 'number', text: match[0], ...position });
      i += match[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= n || source[i] === '\n')
          throw new TextFormatSyntaxError('string not closed on its line', position);
        const d = source[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d !== '\\') {
          value += d;
          i++;
          continue;
        }
        const e = source[i + 1];
        if (e !== undefined && kEscapes[e] !== undefined) {
          value += kEscapes[e];
          i += 2;
        } else if (e === 'x' || e === 'X') {
          const hex = /^[0-9a-fA-F]{1,2}/.exec(source.slice(i + 2));
          if (!hex) throw new TextFormatSyntaxError('invalid \\x escape', position);
          value += String.fromCharCode(parseInt(hex[0], 16));
          i += 2 + hex[0].length;
        } else if (e !== undefined && /[0-7]/.test(e)) {
          const octal = /^[0-7]{1,3}/.exec(source.slice(i + 1))!;
          value += String.fromCharCode(parseInt(octal[0], 8));
          i += 1 + octal[0].length;
        } else {
          throw new TextFormatSyntaxError(`invalid escape "\\${e ?? ''}" in a string`, position);
        }
      }
      tokens.push({ type: 'string', value, ...position });
      continue;
    }
    if ('{}<>[]:,;-'.includes(c)) {
      tokens.push({ type: 'symbol', text: c, ...position });
      i++;
      continue;
    }
    throw new TextFormatSyntaxError(`unexpected character ${JSON.stringify(c)}`, position);
  }
  tokens.push({ type: 'end', line, column: i - lineStart + 1 });
  return tokens;
}
