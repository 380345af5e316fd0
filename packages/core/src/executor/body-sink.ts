import { createEventStreamParser } from './event-stream.js';
import type { EventStreamParser, ServerSentEvent } from './event-stream.js';

/** Where a transport puts the decoded body of the final answer, chunk by chunk. */
export interface BodySink {
  /** Adds a chunk; throws {@link BodyTooLargeError} once the body passes the cap. */
  push(chunk: Buffer): void;
  /** The body read; empty when it was an event stream (its events went to `onEvent` as they came). */
  finish(): { body: Buffer; streamed: boolean };
}

/** Thrown by {@link BodySink.push} when the body passes its cap. */
export class BodyTooLargeError extends Error {
  constructor() {
    super('upstream body over the cap');
    this.name = 'BodyTooLargeError';
  }
}

/** True for a 2xx `text/event-stream` answer: one the executor reads event by event. */
export function isEventStreamAnswer(status: number, contentType: string | undefined): boolean {
  return status >= 200 && status <= 299 && contentType?.split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}

/**
 * Creates the sink of one answer. Bytes count against `maxBytes` either way; a 2xx event stream is
 * parsed as it arrives, so progress and log events reach the client while the upstream works,
 * and only its events are kept, not its bytes.
 */
export function createBodySink(
  status: number,
  contentType: string | undefined,
  maxBytes: number,
  onEvent: ((event: ServerSentEvent) => void) | undefined,
): BodySink {
  const events: EventStreamParser | undefined =
    onEvent !== undefined && isEventStreamAnswer(status, contentType) ? createEventStreamParser(onEvent) : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.length;
      if (size > maxBytes) throw new BodyTooLargeError();
      if (events === undefined) chunks.push(chunk);
      else events.push(chunk);
    },
    finish() {
      if (events === undefined) return { body: Buffer.concat(chunks, size), streamed: false };
      events.end();
      return { body: Buffer.alloc(0), streamed: true };
    },
  };
}
