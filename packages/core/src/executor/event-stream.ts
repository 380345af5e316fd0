/**
 * Upstream event streams: an upstream that answers `text/event-stream` (Server-Sent Events) can
 * report progress and log messages while it works, then the result.
 *
 * | event            | `data`                                                   | becomes                                    |
 * |------------------|----------------------------------------------------------|--------------------------------------------|
 * | `progress`       | `{"progress": 50, "total"?: 100, "message"?: "…"}`       | `notifications/progress` (when the client  |
 * |                  |                                                          | sent a progress token)                     |
 * | `log`            | `{"level"?: "info", "data": …, "logger"?: "…"}` or text  | `notifications/message` (level filtered)   |
 * | `result`         | the answer: JSON, else text                              | the tool result (the last one wins)        |
 * | `error`          | a message: text, or JSON with a `message` string         | an `isError` result                        |
 * | unnamed/`message`| anything                                                 | collected; the result when no `result` or  |
 * |                  |                                                          | `error` event came (joined with newlines)  |
 *
 * Other events and comments are ignored. Parsing follows the WHATWG HTML "event stream" rules
 * (§9.2.6): lines end with CRLF, LF or CR; `data` lines join with LF; a blank line dispatches.
 */
import { TOOL_LOG_LEVELS } from '@dynmcp/plugin';
import type { ToolCallContext, ToolLogLevel } from '@dynmcp/plugin';

/** One dispatched Server-Sent Event. */
export interface ServerSentEvent {
  /** The `event` field; `message` when absent. */
  event: string;
  data: string;
}

/** An incremental event-stream parser: feed it chunks as they arrive. */
export interface EventStreamParser {
  push(chunk: Buffer): void;
  /** Ends the stream; a last event without its blank line is dropped, as the standard says. */
  end(): void;
}

/** Creates a parser that calls `onEvent` for every complete event. */
export function createEventStreamParser(onEvent: (event: ServerSentEvent) => void): EventStreamParser {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let first = true;
  let eventType = '';
  let data: string[] = [];

  function line(text: string) {
    if (text === '') {
      if (data.length > 0) onEvent({ event: eventType || 'message', data: data.join('\n') });
      eventType = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') eventType = value;
    else if (field === 'data') data.push(value);
    // `id` and `retry` concern reconnection, which a tool call never does.
  }

  function drain(final: boolean) {
    for (;;) {
      const match = /\r\n|\n|\r/.exec(buffer);
      // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
      if (match === null || (!final && match[0] === '\r' && match.index === buffer.length - 1)) break;
      line(buffer.slice(0, match.index));
      buffer = buffer.slice(match.index + match[0].length);
    }
  }

  return {
    push(chunk) {
      buffer += decoder.decode(chunk, { stream: true });
      if (first && buffer.length > 0) {
        // A leading byte order mark is not part of the first field name.
        if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
        first = false;
      }
      drain(false);
    },
    end() {
      buffer += decoder.decode();
      drain(true);
    },
  };
}

/** What an event stream amounted to, once it ended. */
export type EventStreamOutcome =
  | { kind: 'result'; data: string }
  | { kind: 'error'; message: string }
  | { kind: 'messages'; data: string }
  | { kind: 'empty' };

/** Interprets upstream events for one call: forwards progress and logs, keeps the result. */
export interface UpstreamEventHandler {
  onEvent(event: ServerSentEvent): void;
  outcome(): EventStreamOutcome;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function logLevel(value: unknown): ToolLogLevel {
  return (TOOL_LOG_LEVELS as readonly unknown[]).includes(value) ? (value as ToolLogLevel) : 'info';
}

/** The longest `message`/`logger` text forwarded from an upstream event. */
const MAX_LABEL = 1024;

/**
 * Creates the handler of one call's upstream events (see the table at the top of this file).
 * Malformed `progress` events are ignored (and noted in the gateway's debug log): a progress
 * report is a courtesy and must never fail the call.
 */
export function createUpstreamEventHandler(context: Pick<ToolCallContext, 'progress' | 'log' | 'logger'>): UpstreamEventHandler {
  let result: string | undefined;
  let error: string | undefined;
  const messages: string[] = [];

  return {
    onEvent({ event, data }) {
      switch (event) {
        case 'progress': {
          const report = parseJson(data);
          if (!isRecord(report) || !isFiniteNumber(report.progress)) {
            context.logger.debug('upstream progress event ignored: not {"progress": <number>}');
            return;
          }
          const total = isFiniteNumber(report.total) ? report.total : undefined;
          const message = typeof report.message === 'string' ? report.message.slice(0, MAX_LABEL) : undefined;
          context.progress(report.progress, total, message);
          return;
        }
        case 'log': {
          const entry = parseJson(data);
          if (isRecord(entry) && 'data' in entry) {
            const logger = typeof entry.logger === 'string' ? entry.logger.slice(0, MAX_LABEL) : undefined;
            context.log(logLevel(entry.level), entry.data, logger);
          } else {
            context.log('info', data);
          }
          return;
        }
        case 'result':
          result = data;
          return;
        case 'error': {
          const parsed = parseJson(data);
          error = isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : data;
          return;
        }
        case 'message':
          messages.push(data);
          return;
        default:
          return;
      }
    },
    outcome() {
      if (error !== undefined) return { kind: 'error', message: error };
      if (result !== undefined) return { kind: 'result', data: result };
      if (messages.length > 0) return { kind: 'messages', data: messages.join('\n') };
      return { kind: 'empty' };
    },
  };
}
