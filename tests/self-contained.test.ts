/**
 * The repository explains itself: no code, test or doc points at documents that are not in it
 * (planning notes, a sibling directory of shared notes) or at the project it was started from by a
 * nickname. Where a comparison matters, the text names "the Rust project dynmcp".
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Sources, tests, docs, schemas, config and scripts; the lockfile names only packages. */
const CHECKED = /\.(?:ts|mts|cts|js|mjs|cjs|md|json|ya?ml|sh|sql)$/;

/**
 * A phrase of `words` as a case-insensitive pattern. The phrases are spelled in parts so that this
 * file, which is checked like every other, does not itself contain what it forbids.
 */
const phrase = (...words: string[]) => new RegExp(`\\b${words.join('\\s+')}\\b`, 'i');

const FORBIDDEN: { what: string; pattern: RegExp }[] = [
  { what: 'a planning notes directory', pattern: new RegExp(['research', '/'].join(''), 'i') },
  // docs/architecture.md is the repository's own map; the upper-case name was a planning document.
  { what: 'a planning document', pattern: new RegExp(['\\bARCHITECTURE', '\\.md'].join('')) },
  { what: 'a directory outside the repository', pattern: new RegExp(['\\.\\./', 'shared\\b'].join(''), 'i') },
  { what: 'a planning card', pattern: phrase('design', 'card') },
  { what: 'the Rust project by a nickname', pattern: new RegExp([phrase('the', 'seed'), phrase('seed', 'readme'), new RegExp(['\\bseed', "'s\\b"].join(''))].map((r) => r.source).join('|'), 'i') },
];

/** Files git tracks or would track (new, not ignored), that still exist in the working tree. */
function repositoryFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  return listed
    .split('\0')
    .filter((path) => CHECKED.test(path) && path !== 'pnpm-lock.yaml' && existsSync(`${root}/${path}`));
}

test('no file refers to documents outside the repository or to the Rust project by a nickname', () => {
  const files = repositoryFiles();
  assert.ok(files.includes('README.md') && files.includes('docs/architecture.md'), 'the check sees the docs');
  assert.ok(files.some((path) => path.startsWith('packages/core/src/')), 'the check sees the sources');
  const found: string[] = [];
  for (const path of files) {
    readFileSync(`${root}/${path}`, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        for (const { what, pattern } of FORBIDDEN) {
          if (pattern.test(line)) found.push(`${path}:${index + 1}: ${what}: ${line.trim()}`);
        }
      });
  }
  assert.deepEqual(found, [], 'say why in the text itself, or name "the Rust project dynmcp"');
});
