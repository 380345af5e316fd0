import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ToolResult } from '@dynmcp/plugin';
import { resultOverCap } from './result-size.js';

const text = (value: string): ToolResult => ({ content: [{ type: 'text', text: value }] });
const sent = (result: ToolResult) => Buffer.byteLength(JSON.stringify(result));

/** Counts JSON.stringify calls made by `run`: the cheap path must make none. */
function stringifyCalls(run: () => void): number {
  const original = JSON.stringify;
  let calls = 0;
  JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => {
    calls += 1;
    return original(...args);
  }) as typeof JSON.stringify;
  try {
    run();
  } finally {
    JSON.stringify = original;
  }
  return calls;
}

describe('resultOverCap', () => {
  it('passes a result that surely fits without encoding it', () => {
    const small = { content: [{ type: 'text', text: 'x'.repeat(1000) }], structuredContent: { rows: [1, 2, { a: 'b' }] } } as ToolResult;
    assert.equal(stringifyCalls(() => assert.equal(resultOverCap(small, 64 * 1024), undefined)), 0);
  });

  it('refuses a result whose text alone is over the cap, without encoding it', () => {
    const big = text('x'.repeat(2000));
    let size: ReturnType<typeof resultOverCap>;
    assert.equal(stringifyCalls(() => (size = resultOverCap(big, 1000))), 0);
    assert.equal(size!.exact, false);
    assert.ok(size!.bytes > 1000 && size!.bytes <= sent(big));
  });

  it('measures exactly when escapes decide: the size as sent, not the text length', () => {
    // 1000 control characters are 1000 UTF-16 units but 6000 bytes as JSON.
    const escaped = text('\u0001'.repeat(1000));
    const exact = sent(escaped);
    assert.ok(exact > 6000);
    assert.deepEqual(resultOverCap(escaped, 5000), { bytes: exact, exact: true });
    assert.equal(resultOverCap(escaped, exact), undefined);
    assert.deepEqual(resultOverCap(escaped, exact - 1), { bytes: exact, exact: true });
    // Multi-byte characters: 1000 units, 3000 bytes.
    const wide = text('€'.repeat(1000));
    assert.deepEqual(resultOverCap(wide, 2500), { bytes: sent(wide), exact: true });
  });

  it('counts structuredContent, images and resources', () => {
    const structured: ToolResult = { content: [{ type: 'text', text: 'ok' }], structuredContent: { rows: Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}` })) } };
    const over = resultOverCap(structured, 5000);
    assert.ok(over !== undefined && over.bytes > 5000 && over.bytes <= sent(structured), 'a lower bound past the cap');
    assert.equal(resultOverCap(structured, sent(structured)), undefined);
    assert.deepEqual(resultOverCap(structured, sent(structured) - 1), { bytes: sent(structured), exact: true });
    const image: ToolResult = { content: [{ type: 'image', data: 'A'.repeat(4000), mimeType: 'image/png' }] };
    assert.ok(resultOverCap(image, 3000));
    const resource: ToolResult = { content: [{ type: 'resource', resource: { uri: 'docs://a', text: 'y'.repeat(4000) } }] };
    assert.ok(resultOverCap(resource, 3000));
    assert.equal(resultOverCap(resource, sent(resource)), undefined);
  });

  it('encodes to measure what is not plain data, and counts what cannot be encoded as over', () => {
    const dated = { content: [], structuredContent: { at: new Date(0) } } as unknown as ToolResult;
    assert.equal(stringifyCalls(() => assert.equal(resultOverCap(dated, 1000), undefined)), 1);
    const withBigInt = { content: [], structuredContent: { n: 1n } } as unknown as ToolResult;
    assert.equal(resultOverCap(withBigInt, 1000)?.bytes, Number.POSITIVE_INFINITY);
  });
});
