import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileLinearPattern, MAX_PATTERN_LENGTH, PatternError } from './linear-pattern.js';

// Inputs every pattern below is tried on, next to its own: line terminators, Unicode spaces,
// astral characters, lone surrogates, controls.
const COMMON_INPUTS = ['', 'a', 'abc', 'A', 'É', 'é', '😀', '😁', 'α', 'Ω', ' ', '\u00a0', '\u2028', '\n', '\r', '\t', '\v', '\ufeff', '\u3000', '\b', '\0', '\ud83d', '9', '_', '-', '/', '[', 'a\n', 'x y'];

/**
 * Patterns whose meaning must be the same on the linear-time engine as in ECMAScript (`u` flag),
 * with inputs that tell the two apart where RE2's syntax or defaults differ.
 */
const SAME_MEANING: Array<[string, string[]]> = [
  ['b', ['abc', 'xyz']],
  ['^$', ['', 'a']],
  ['^a$', ['a\n', 'a']],
  ['^.$', ['😀', 'a', '\n', '\r', '\u2028', '\u2029', '\u0085']],
  ['^..$', ['😀', 'ab']],
  ['^[😀-😂]$', ['😁', '😃']],
  ['^\\u{1F600}$', ['😀', '😃']],
  ['^\\uD83D\\uDE00$', ['😀', '\ud83d\ude00x']],
  ['^\\u00e9$', ['é', 'e']],
  ['^\\x41$', ['A', 'a']],
  ['^\\cJ$', ['\n', 'J']],
  ['^\\0$', ['\0', '0']],
  ['^\\s+$', [' \t\u00a0\u2003\ufeff\u3000\u2028\v', '\u0085', '\u180e', 'a']],
  ['^\\S+$', ['abc', 'a\u00a0', '\u0085']],
  ['^[\\s\\S]+$', ['anything\nat all']],
  ['^[^\\S]$', ['\u00a0', 'a']],
  ['^[a\\S]$', ['\u00a0', 'b']],
  ['^[^]$', ['\n', 'a', '😀']],
  ['[]', ['a', '']],
  ['^\\d{3}-\\d{4}$', ['555-1234', '٣٣٣-1234']],
  ['^\\w+$', ['hello_1', 'héllo']],
  ['\\bcat\\b', ['a cat sat', 'concatenate']],
  ['\\Bcat', ['concat', 'cat']],
  ['^\\p{Lu}\\p{Ll}+$', ['Élan', 'élan', 'Ωmega']],
  ['^\\p{L}+$', ['héllo', 'αβγ', 'a1']],
  ['^\\P{L}+$', ['123', 'a']],
  ['^\\p{Letter}+$', ['abc', '1']],
  ['^\\p{gc=Nd}+$', ['123', '٣']],
  ['^\\p{General_Category=Uppercase_Letter}$', ['A', 'a']],
  ['^\\p{Script=Greek}+$', ['αβγ', 'abc']],
  ['^\\p{sc=Latin}+$', ['abc', 'αβγ']],
  ['^[\\p{L}\\p{N}_-]+$', ['ab_1-é', 'a b']],
  ['^\\p{Any}$', ['😀', '\n']],
  ['^\\p{ASCII}+$', ['abc', 'é']],
  ['^[\\P{ASCII}]+$', ['é😀', 'e']],
  ['^[\\b]$', ['\b', 'b']],
  ['^[\\-a]$', ['-', 'a', 'b']],
  ['^[a-]$', ['-', 'a']],
  ['^[[]$', ['[', ']']],
  ['^[[:alpha:]+$', ['[:a', 'b', 'pha']],
  ['^[a^]$', ['^', 'a']],
  ['^\\/\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\$', ['/.*+?()[]{}|^$\\']],
  ['^(?<year>\\d{4})-(?<month>\\d{2})$', ['2024-05', '24-05']],
  ['^(?:ab|cd)+?$', ['abcdab', 'abc']],
  ['^a{2,3}$', ['a', 'aa', 'aaaa']],
  ['^a{2,}$', ['a', 'aaaaa']],
  ['^(a|)$', ['', 'a', 'b']],
  ['^[^a-z]$', ['A', 'a', '😀']],
  ['^[\\u{1F600}-\\u{1F64F}]$', ['😀', '😀😀']],
  ['^[\\x41-\\x5A]+$', ['ABC', 'abc']],
  ['^\\w+@\\w+\\.com$', ['me@example.com', 'me@example.org']],
];

describe('linear-time patterns mean what ECMAScript says', () => {
  for (const [pattern, inputs] of SAME_MEANING) {
    test(`/${pattern}/u`, () => {
      const linear = compileLinearPattern(pattern);
      const native = new RegExp(pattern, 'u');
      for (const input of [...inputs, ...COMMON_INPUTS]) {
        assert.equal(linear.test(input), native.test(input), `${JSON.stringify(pattern)} on ${JSON.stringify(input)}`);
      }
    });
  }
});

test('what a linear-time engine cannot run is refused with the pattern and the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['^(a)\\1$', /backreference \(\\1\)/],
    ['^(?<x>a)\\k<x>$', /named backreference/],
    ['^(?=a)', /lookahead/],
    ['^(?!a)', /lookahead/],
    ['(?<=a)b', /lookbehind/],
    ['(?<!a)b', /lookbehind/],
    ['^\\p{Emoji}$', /Unicode property \\p\{Emoji\}/],
    ['^\\p{Script_Extensions=Greek}$', /Unicode property/],
    ['^a{1001}$', /linear-time engine.*repeat count/],
    ['^(a{100}){100}$', /linear-time engine/],
    ['[a-z]{1000}[0-9]{1000}', /too large: \d+ instructions/],
    ['(', /not a valid ECMA-262 regular expression/],
    ['\\e', /not a valid ECMA-262 regular expression/],
  ];
  for (const [pattern, reason] of cases) {
    assert.throws(
      () => compileLinearPattern(pattern),
      (error: unknown) => {
        assert.ok(error instanceof PatternError, pattern);
        assert.equal(error.pattern, pattern);
        assert.ok(error.message.includes(JSON.stringify(pattern)), error.message);
        assert.match(error.message, reason);
        return true;
      },
    );
  }
});

test('a pattern longer than MAX_PATTERN_LENGTH is refused before it is compiled', () => {
  const started = performance.now();
  assert.throws(() => compileLinearPattern('x'.repeat(MAX_PATTERN_LENGTH + 1)), /8193 characters long, at most 8192/);
  assert.ok(performance.now() - started < 50);
  assert.doesNotThrow(() => compileLinearPattern(`^(?:${'ab|'.repeat(500)}c)$`));
});

test('catastrophic patterns answer in linear time', () => {
  const cases: Array<[string, string]> = [
    ['^(a+)+$', `${'a'.repeat(10_000)}!`],
    ['(x+x+)+y', 'x'.repeat(10_000)],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', `${'a'.repeat(10_000)}!`],
    ['^(\\w+\\s?)*$', `${'word '.repeat(2_000)}!`],
  ];
  for (const [pattern, input] of cases) {
    const linear = compileLinearPattern(pattern);
    const started = performance.now();
    assert.equal(linear.test(input), false);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 100, `${pattern} took ${elapsed.toFixed(1)} ms`);
  }
});

test('toString keys each pattern apart, as ajv shares compiled patterns by it', () => {
  assert.notEqual(String(compileLinearPattern('^a$')), String(compileLinearPattern('^b$')));
  assert.equal(String(compileLinearPattern('^a$')), String(compileLinearPattern('^a$')));
});
