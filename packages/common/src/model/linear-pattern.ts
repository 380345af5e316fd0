import type { Options } from 'ajv';
import { RE2JS } from 're2js';

/**
 * Runs the regular expressions of admin-supplied JSON Schemas (`pattern`, `patternProperties`)
 * on RE2JS, a pure-JavaScript port of RE2 whose matching time is linear in the input. V8's own
 * engine backtracks: `^(a+)+$` against thirty `a`s and a `!` blocks the event loop, and with it
 * every other request, for seconds.
 *
 * JSON Schema patterns are ECMA-262 regular expressions, which ajv compiles with the `u` flag.
 * A pattern is first checked by V8 (compiled, never run, so it is valid ECMA-262 in `u` mode),
 * then translated to RE2 syntax keeping ECMAScript's meaning where the two differ (`.`, `\s`,
 * `\u` escapes, surrogate pairs, `\p{…}` spellings, empty classes), then compiled by RE2JS.
 * What a linear-time engine cannot run (backreferences, lookahead, lookbehind), what RE2 does
 * not know (binary Unicode properties such as `\p{Emoji}`, script extensions, four-letter
 * script aliases), repetition counts above 1000 and programs over
 * {@link MAX_PATTERN_INSTRUCTIONS} are refused with a {@link PatternError}.
 */
export class PatternError extends Error {
  constructor(
    /** The pattern as the schema gives it. */
    readonly pattern: string,
    /** Why it cannot be used, without the pattern. */
    readonly reason: string,
  ) {
    super(`pattern ${JSON.stringify(pattern)} ${reason}`);
    this.name = 'PatternError';
  }
}

/**
 * Largest compiled pattern accepted, in RE2 instructions. Matching is linear in the input, but
 * each character costs up to one step per instruction when RE2's DFA gives up on a large
 * program: a 10,000-instruction pattern spends about half a second on a 100 kB argument.
 * Everyday patterns (dates, emails, ids, a list of 250 country codes) stay well under 1,000;
 * one `{1000}` repetition of a character class, RE2's largest count, fits.
 */
export const MAX_PATTERN_INSTRUCTIONS = 2_000;

/** Longest pattern text accepted; checked first, so no write pays for compiling a huge one. */
export const MAX_PATTERN_LENGTH = 8_192;

/** What ajv needs of a compiled pattern: `test`, and a `toString` it keys compiled patterns by. */
export interface LinearPattern {
  test(input: string): boolean;
  toString(): string;
}

/** Compiles an ECMA-262 pattern (`u` flag semantics) for linear-time, unanchored matching. */
export function compileLinearPattern(source: string): LinearPattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new PatternError(source.slice(0, 64), `… is ${source.length} characters long, at most ${MAX_PATTERN_LENGTH}`);
  }
  try {
    // Compiling is cheap and never backtracks; the native RegExp is dropped unused.
    new RegExp(source, 'u');
  } catch (error) {
    throw new PatternError(source, `is not a valid ECMA-262 regular expression: ${(error as Error).message}`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(translatePattern(source));
  } catch (error) {
    if (error instanceof PatternError) throw error;
    throw new PatternError(source, `cannot run on the linear-time engine: ${(error as Error).message}`);
  }
  const size = compiled.programSize();
  if (size > MAX_PATTERN_INSTRUCTIONS) {
    throw new PatternError(source, `is too large: ${size} instructions on the linear-time engine, at most ${MAX_PATTERN_INSTRUCTIONS}; use minLength/maxLength for lengths`);
  }
  // ajv shares one compiled pattern between every schema whose `toString()` is equal.
  const key = `re2:/${source}/u`;
  return { test: (input) => compiled.test(input), toString: () => key };
}

type RegExpEngine = NonNullable<NonNullable<Options['code']>['regExp']>;

/**
 * The ajv `code.regExp` engine: every pattern a compiled schema tests runs on RE2JS. ajv passes
 * the `u` flag (its default `unicodeRegExp`), which {@link compileLinearPattern} always applies.
 * `code` is only written into standalone validator source, which the gateway never generates.
 */
export const linearRegExp: RegExpEngine = Object.assign((source: string) => compileLinearPattern(source), {
  code: 'linearRegExp',
});

// ECMAScript's `\s`: WhiteSpace and LineTerminator (ECMA-262 § 22.2.2.9), as code point ranges.
const SPACE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const MAX_CODE_POINT = 0x10ffff;

const hex = (codePoint: number) => `\\x{${codePoint.toString(16).toUpperCase()}}`;
const classItems = (ranges: ReadonlyArray<readonly [number, number]>) =>
  ranges.map(([from, to]) => (from === to ? hex(from) : `${hex(from)}-${hex(to)}`)).join('');

function complement(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [from, to] of ranges) {
    if (from > next) out.push([next, from - 1]);
    next = to + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

const SPACE_ITEMS = classItems(SPACE_RANGES);
const NON_SPACE_ITEMS = classItems(complement(SPACE_RANGES));
const ASCII_ITEMS = classItems([[0, 0x7f]]);
const NON_ASCII_ITEMS = classItems([[0x80, MAX_CODE_POINT]]);
// ECMAScript's `.` without the `s` flag stops at every LineTerminator, RE2's only at `\n`.
const DOT = `[^${classItems([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]])}]`;
const NOTHING = `[^${hex(0)}-${hex(MAX_CODE_POINT)}]`;
const ANYTHING = `[${hex(0)}-${hex(MAX_CODE_POINT)}]`;

// General_Category values ECMAScript accepts by long name; RE2 knows the short ones.
const GENERAL_CATEGORIES: Readonly<Record<string, string>> = {
  Letter: 'L', Cased_Letter: 'LC', Uppercase_Letter: 'Lu', Lowercase_Letter: 'Ll', Titlecase_Letter: 'Lt',
  Modifier_Letter: 'Lm', Other_Letter: 'Lo', Mark: 'M', Combining_Mark: 'M', Nonspacing_Mark: 'Mn',
  Spacing_Mark: 'Mc', Enclosing_Mark: 'Me', Number: 'N', Decimal_Number: 'Nd', digit: 'Nd', Letter_Number: 'Nl',
  Other_Number: 'No', Punctuation: 'P', punct: 'P', Connector_Punctuation: 'Pc', Dash_Punctuation: 'Pd',
  Open_Punctuation: 'Ps', Close_Punctuation: 'Pe', Initial_Punctuation: 'Pi', Final_Punctuation: 'Pf',
  Other_Punctuation: 'Po', Symbol: 'S', Math_Symbol: 'Sm', Currency_Symbol: 'Sc', Modifier_Symbol: 'Sk',
  Other_Symbol: 'So', Separator: 'Z', Space_Separator: 'Zs', Line_Separator: 'Zl', Paragraph_Separator: 'Zp',
  Other: 'C', Control: 'Cc', cntrl: 'Cc', Format: 'Cf', Surrogate: 'Cs', Private_Use: 'Co', Unassigned: 'Cn',
};
const SHORT_CATEGORIES = new Set(Object.values(GENERAL_CATEGORIES));

/**
 * Translates a valid `u`-mode ECMA-262 pattern to RE2 syntax with the same meaning, or throws a
 * {@link PatternError} for what RE2 cannot express. Relies on V8 having accepted the pattern, so
 * it only has to tell valid constructs apart.
 */
export function translatePattern(source: string): string {
  const refuse = (reason: string): never => {
    throw new PatternError(source, reason);
  };
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '\\') {
      const [text, next] = translateEscape(source, i, inClass, refuse);
      out += text;
      i = next;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      // RE2 reads `[:alpha:]` inside a class as a POSIX class; ECMAScript reads characters.
      out += ch === '[' ? '\\[' : ch === '^' ? '\\^' : ch;
      i += 1;
      continue;
    }
    if (ch === '[') {
      if (source.startsWith('[]', i)) {
        out += NOTHING;
        i += 2;
      } else if (source.startsWith('[^]', i)) {
        out += ANYTHING;
        i += 3;
      } else {
        inClass = true;
        const negated = source[i + 1] === '^';
        out += negated ? '[^' : '[';
        i += negated ? 2 : 1;
      }
      continue;
    }
    if (ch === '.') {
      out += DOT;
      i += 1;
      continue;
    }
    if (ch === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2, i + 4);
      if (rest.startsWith(':')) {
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('=') || rest.startsWith('!')) {
        refuse('uses a lookahead ((?= or (?!), which a linear-time engine cannot run');
      } else if (rest === '<=' || rest === '<!') {
        refuse('uses a lookbehind ((?<= or (?<!), which a linear-time engine cannot run');
      } else if (rest.startsWith('<')) {
        // Group names only matter to backreferences, which are refused; RE2 allows fewer names.
        out += '(';
        i = source.indexOf('>', i) + 1;
      } else {
        refuse('uses a group syntax the linear-time engine does not support');
      }
      continue;
    }
    // Everything else (quantifiers, alternation, anchors, literal characters, astral ones
    // included) means the same in RE2; `$` matches only at the end in both without `m`.
    const codePoint = source.codePointAt(i)!;
    const width = codePoint > 0xffff ? 2 : 1;
    out += source.slice(i, i + width);
    i += width;
  }
  // RE2JS parses an empty pattern; `(?:)` says the same and is what RE2JS itself suggests.
  return out === '' ? '(?:)' : out;
}

function translateEscape(source: string, at: number, inClass: boolean, refuse: (reason: string) => never): [string, number] {
  const ch = source[at + 1]!;
  switch (ch) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 't':
    case 'n':
    case 'v':
    case 'f':
    case 'r':
      return [`\\${ch}`, at + 2];
    case 'b':
      // Inside a class ECMAScript's `\b` is backspace; RE2 refuses it there.
      return [inClass ? hex(8) : '\\b', at + 2];
    case 'B':
      return ['\\B', at + 2];
    case 's':
      return [inClass ? SPACE_ITEMS : `[${SPACE_ITEMS}]`, at + 2];
    case 'S':
      return [inClass ? NON_SPACE_ITEMS : `[${NON_SPACE_ITEMS}]`, at + 2];
    case '0':
      return [hex(0), at + 2];
    case 'c':
      return [hex(source.charCodeAt(at + 2) % 32), at + 3];
    case 'x':
      return [hex(parseInt(source.slice(at + 2, at + 4), 16)), at + 4];
    case 'u':
      return unicodeEscape(source, at);
    case 'p':
    case 'P':
      return propertyEscape(source, at, inClass, refuse);
    case 'k':
      return refuse('uses a named backreference (\\k<…>), which a linear-time engine cannot run');
    default:
      if (ch >= '1' && ch <= '9') return refuse(`uses a backreference (\\${ch}), which a linear-time engine cannot run`);
      // What is left in `u` mode is an escaped syntax character or `-`: the same in RE2.
      return [`\\${ch}`, at + 2];
  }
}

function unicodeEscape(source: string, at: number): [string, number] {
  if (source[at + 2] === '{') {
    const end = source.indexOf('}', at);
    return [hex(parseInt(source.slice(at + 3, end), 16)), end + 1];
  }
  const unit = parseInt(source.slice(at + 2, at + 6), 16);
  // In `u` mode an escaped surrogate pair is one code point.
  if (unit >= 0xd800 && unit <= 0xdbff && source.startsWith('\\u', at + 6)) {
    const low = parseInt(source.slice(at + 8, at + 12), 16);
    if (low >= 0xdc00 && low <= 0xdfff && /^[0-9A-Fa-f]{4}$/.test(source.slice(at + 8, at + 12))) {
      return [hex((unit - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000), at + 12];
    }
  }
  return [hex(unit), at + 6];
}

function propertyEscape(source: string, at: number, inClass: boolean, refuse: (reason: string) => never): [string, number] {
  const negated = source[at + 1] === 'P';
  const end = source.indexOf('}', at);
  const body = source.slice(at + 3, end);
  const next = end + 1;
  const [name, value] = body.includes('=') ? body.split('=', 2) as [string, string] : [undefined, body];
  const property = (re2Name: string): [string, number] => [`\\${negated ? 'P' : 'p'}{${re2Name}}`, next];
  if (name === 'General_Category' || name === 'gc' || (name === undefined && (SHORT_CATEGORIES.has(value) || Object.hasOwn(GENERAL_CATEGORIES, value)))) {
    return property(Object.hasOwn(GENERAL_CATEGORIES, value) ? GENERAL_CATEGORIES[value]! : value);
  }
  if (name === 'Script' || name === 'sc') return property(value);
  if (name === undefined && value === 'Any') return property('Any');
  if (name === undefined && value === 'ASCII') {
    const items = negated ? NON_ASCII_ITEMS : ASCII_ITEMS;
    return [inClass ? items : `[${items}]`, next];
  }
  if (name === undefined && value === 'Assigned') return [`\\${negated ? 'p' : 'P'}{Cn}`, next];
  return refuse(`uses the Unicode property \\${negated ? 'P' : 'p'}{${body}}, which the linear-time engine does not support (general categories, scripts by their long name, Any, ASCII and Assigned are)`);
}
