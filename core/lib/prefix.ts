/**
 * The range of the strings that begin with a prefix, as an index reads it:
 * `from <= value < to`, in code point order (the order of UTF-8 bytes, that
 * is SQLite's BINARY collation and PostgreSQL's "C"). A range, unlike
 * `LIKE 'x%'`, needs no escaping of `%` and `_`, and every backend reads it
 * from its index the same way.
 */

const MAX_CODE_POINT = 0x10ffff;
const SURROGATES = { first: 0xd800, after: 0xe000 };

/**
 * `from` is the prefix itself; `to` is the prefix with its last code point
 * raised by one (after dropping trailing U+10FFFF, which has no next). A
 * prefix of U+10FFFF alone has no such string: `to` is then longer than any
 * value of at most `longest` characters, which is every value the column holds.
 */
export function prefixRange(prefix: string, longest: number): { from: string; to: string } {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0 && points[points.length - 1] === MAX_CODE_POINT) points.pop();
  if (points.length === 0) return { from: prefix, to: String.fromCodePoint(MAX_CODE_POINT).repeat(longest + 1) };
  let last = points.pop()! + 1;
  // UTF-8 has no surrogates: the code point after U+D7FF is U+E000.
  if (last === SURROGATES.first) last = SURROGATES.after;
  return { from: prefix, to: String.fromCodePoint(...points, last) };
}
