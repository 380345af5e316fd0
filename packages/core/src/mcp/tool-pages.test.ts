import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { decodeToolsCursor, encodeToolsCursor, pageOfTools } from './tool-pages.js';

const listing = (...names: string[]) => names.map((name) => ({ name })).sort((a, b) => (a.name < b.name ? -1 : 1));
const names = (page: { tools: { name: string }[] }) => page.tools.map((tool) => tool.name);

/** Follows `nextCursor` to the end; `between(cursor)` may swap the listing before each next page. */
function listAll(pages: { listings: { name: string }[] }, size: number, between?: (pageIndex: number) => void) {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let index = 0; index < 100; index += 1) {
    const page = pageOfTools(pages.listings, cursor, size, 7);
    seen.push(...names(page));
    if (page.nextCursor === undefined) return seen;
    cursor = page.nextCursor;
    between?.(index);
  }
  throw new Error('pagination did not end');
}

const isInvalidParams = (error: unknown) =>
  error instanceof ProtocolError && error.code === ProtocolErrorCode.InvalidParams && /Invalid cursor/.test(error.message);

describe('tools/list cursors', () => {
  it('round-trips as opaque base64url text', () => {
    const cursor = encodeToolsCursor({ after: 'get_user.v2-beta', revision: 42 });
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.ok(!cursor.includes('get_user'), 'the name is not readable in the cursor');
    assert.deepEqual(decodeToolsCursor(cursor), { after: 'get_user.v2-beta', revision: 42 });
  });

  it('refuses anything the gateway did not make', () => {
    const valid = encodeToolsCursor({ after: 'a', revision: 1 });
    for (const bad of [
      '',
      '!!!',
      `${valid}=`,
      `${valid}==`,
      'bm90IGEgY3Vyc29y', // "not a cursor"
      Buffer.from('1:has space').toString('base64url'),
      Buffer.from('x:name').toString('base64url'),
      Buffer.from('01:name').toString('base64url'),
      Buffer.from('1:').toString('base64url'),
      Buffer.from(`1:${'a'.repeat(129)}`).toString('base64url'),
      'A'.repeat(300),
    ]) {
      assert.equal(decodeToolsCursor(bad), undefined, `refuses ${JSON.stringify(bad)}`);
    }
  });
});

describe('pageOfTools', () => {
  const five = listing('a', 'b', 'c', 'd', 'e');

  it('serves everything without a cursor when it fits one page', () => {
    assert.deepEqual(pageOfTools(five, undefined, 5, 1), { tools: five });
    assert.deepEqual(pageOfTools([], undefined, 5, 1), { tools: [] });
  });

  it('pages by name and ends without nextCursor', () => {
    const first = pageOfTools(five, undefined, 2, 3);
    assert.deepEqual(names(first), ['a', 'b']);
    assert.deepEqual(decodeToolsCursor(first.nextCursor ?? ''), { after: 'b', revision: 3 });
    const second = pageOfTools(five, first.nextCursor, 2, 3);
    assert.deepEqual(names(second), ['c', 'd']);
    const third = pageOfTools(five, second.nextCursor, 2, 3);
    assert.deepEqual(third, { tools: listing('e') });
    assert.deepEqual(listAll({ listings: five }, 2), ['a', 'b', 'c', 'd', 'e']);
  });

  it('answers an invalid cursor with -32602', () => {
    assert.throws(() => pageOfTools(five, 'garbage!', 2, 1), isInvalidParams);
    assert.throws(() => pageOfTools(five, 'bm90IGEgY3Vyc29y', 2, 1), isInvalidParams);
  });

  it('stays stable across live edits between pages: no tool present throughout is repeated or skipped', () => {
    const state = { listings: listing('a', 'b', 'c', 'd', 'e', 'f') };
    const seen = listAll(state, 2, (pageIndex) => {
      if (pageIndex === 0) {
        // After page [a, b]: a tool sorting before the cursor appears, "c" (next up) disappears,
        // and one sorting after it appears.
        state.listings = listing('a', 'aa', 'b', 'd', 'e', 'f', 'ff');
      }
    });
    assert.deepEqual(seen, ['a', 'b', 'd', 'e', 'f', 'ff']);
  });

  it('continues after a cursor whose tool was deleted', () => {
    const cursor = encodeToolsCursor({ after: 'c', revision: 1 });
    assert.deepEqual(names(pageOfTools(listing('a', 'b', 'd', 'e'), cursor, 10, 2)), ['d', 'e']);
    // A cursor past the end gives an empty last page.
    assert.deepEqual(pageOfTools(listing('a'), cursor, 10, 2), { tools: [] });
  });
});
