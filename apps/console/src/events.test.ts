/** The event stream parser the console reads GET /admin/events with: fields, comments, ids, and events split across chunks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSseParser } from './events.js';

function parseAll(chunks: string[]) {
  const events: Array<{ event: string; id: string | undefined; data: string }> = [];
  const feed = createSseParser((event) => events.push(event));
  for (const chunk of chunks) feed(chunk);
  return events;
}

test('events, ids and data; comments and unknown fields ignored', () => {
  const text = ': ping\n\nevent: ready\ndata: {"revision":3}\n\nid: 4\nevent: change\ndata: {"revision":4,\ndata: "changes":[]}\nretry: 10\n\n';
  assert.deepEqual(parseAll([text]), [
    { event: 'ready', id: undefined, data: '{"revision":3}' },
    { event: 'change', id: '4', data: '{"revision":4,\n"changes":[]}' },
  ]);
});

test('an event split anywhere across chunks, CRLF and CR line ends alike', () => {
  const text = 'id: 7\r\nevent: change\r\ndata: {"revision":7}\r\n\r\nevent: reset\rdata: {}\r\n\n';
  const expected = [
    { event: 'change', id: '7', data: '{"revision":7}' },
    { event: 'reset', id: '7', data: '{}' },
  ];
  for (let cut = 1; cut < text.length; cut += 1) {
    assert.deepEqual(parseAll([text.slice(0, cut), text.slice(cut)]), expected, `cut at ${cut}`);
  }
  assert.deepEqual(parseAll([...text]), expected);
});
