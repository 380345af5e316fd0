import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger, type ToolLogLevel } from '@dynmcp/plugin';
import { createEventStreamParser, createUpstreamEventHandler, type ServerSentEvent } from './event-stream.js';

function parse(...chunks: Array<string | Buffer>): ServerSentEvent[] {
  const events: ServerSentEvent[] = [];
  const parser = createEventStreamParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  parser.end();
  return events;
}

describe('createEventStreamParser', () => {
  it('dispatches on blank lines, joins data lines, defaults the type to message', () => {
    assert.deepEqual(parse('event: progress\ndata: {"progress":1}\n\ndata: a\ndata:b\n\n'), [
      { event: 'progress', data: '{"progress":1}' },
      { event: 'message', data: 'a\nb' },
    ]);
  });

  it('accepts CRLF and CR line ends, also split across chunks', () => {
    assert.deepEqual(parse('event: log\r', '\ndata: x\r\n\r', '\nevent: result\rdata: y\r\r'), [
      { event: 'log', data: 'x' },
      { event: 'result', data: 'y' },
    ]);
  });

  it('ignores comments, id/retry fields and events without data; drops an unterminated last event', () => {
    assert.deepEqual(parse(': keep-alive\n\nid: 7\nretry: 10\nevent: ping\n\ndata: kept\n\ndata: lost'), [{ event: 'message', data: 'kept' }]);
  });

  it('decodes UTF-8 split inside a character and drops a leading BOM', () => {
    const bytes = Buffer.from('\uFEFFdata: héllo\n\n');
    const split = bytes.indexOf(0xc3) + 1;
    assert.deepEqual(parse(bytes.subarray(0, split), bytes.subarray(split)), [{ event: 'message', data: 'héllo' }]);
  });
});

describe('createUpstreamEventHandler', () => {
  function handler() {
    const progress: unknown[] = [];
    const logs: unknown[] = [];
    const events = createUpstreamEventHandler({
      logger: silentLogger,
      progress: (...args: unknown[]) => progress.push(args),
      log: (level: ToolLogLevel, data: unknown, logger?: string) => logs.push([level, data, logger]),
    });
    return { events, progress, logs };
  }

  it('forwards progress and log events as they come and keeps the last result', () => {
    const { events, progress, logs } = handler();
    events.onEvent({ event: 'progress', data: '{"progress":0,"total":100}' });
    events.onEvent({ event: 'log', data: '{"level":"warning","data":{"disk":"low"},"logger":"worker"}' });
    events.onEvent({ event: 'progress', data: '{"progress":50,"total":100,"message":"half way"}' });
    events.onEvent({ event: 'log', data: 'plain text line' });
    events.onEvent({ event: 'log', data: '{"level":"shouting","data":"odd level"}' });
    events.onEvent({ event: 'result', data: '{"draft":1}' });
    events.onEvent({ event: 'result', data: '{"final":true}' });
    assert.deepEqual(progress, [
      [0, 100, undefined],
      [50, 100, 'half way'],
    ]);
    assert.deepEqual(logs, [
      ['warning', { disk: 'low' }, 'worker'],
      ['info', 'plain text line', undefined],
      ['info', 'odd level', undefined],
    ]);
    assert.deepEqual(events.outcome(), { kind: 'result', data: '{"final":true}' });
  });

  it('ignores malformed progress events', () => {
    const { events, progress } = handler();
    for (const data of ['50', '{"progress":"50"}', '{"total":1}', 'not json']) events.onEvent({ event: 'progress', data });
    assert.deepEqual(progress, []);
  });

  it('lets an error event win, and falls back to unnamed events, then to nothing', () => {
    const failing = handler();
    failing.events.onEvent({ event: 'result', data: 'partial' });
    failing.events.onEvent({ event: 'error', data: '{"message":"quota exceeded"}' });
    assert.deepEqual(failing.events.outcome(), { kind: 'error', message: 'quota exceeded' });

    const chatty = handler();
    chatty.events.onEvent({ event: 'message', data: 'Hello' });
    chatty.events.onEvent({ event: 'message', data: 'world' });
    chatty.events.onEvent({ event: 'heartbeat', data: 'ignored' });
    assert.deepEqual(chatty.events.outcome(), { kind: 'messages', data: 'Hello\nworld' });

    assert.deepEqual(handler().events.outcome(), { kind: 'empty' });
  });
});
