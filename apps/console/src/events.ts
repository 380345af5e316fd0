// Live updates: GET /admin/events, read with fetch and a streaming body reader rather than
// EventSource, which cannot send the Authorization header (and the key must never go into a URL).
// Resumes with Last-Event-ID after a break. The console is only ever served by a gateway that has
// the stream (apps/server/src/start-gateway.ts always mounts it), so there is no polling fallback.
import type { Api } from './api.js';
import type { DefinitionChange } from './model.js';

export type LiveMode = 'connecting' | 'live' | 'offline';

export interface LiveHandlers {
  /** The revision the stream starts from (`event: ready`). */
  ready(revision: number): void;
  /** One revision's changes. */
  change(revision: number, changes: DefinitionChange[]): void;
  /** The stream cannot say what changed: reload everything. */
  reset(): void;
  mode(mode: LiveMode, detail?: string): void;
}

interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** Splits an event stream's text into events (WHATWG HTML §9.2 event stream interpretation, minus retry). */
export function createSseParser(onEvent: (event: SseEvent) => void): (chunk: string) => void {
  let buffer = '';
  let event = '';
  let id: string | undefined;
  let data: string[] = [];
  return (chunk) => {
    buffer += chunk;
    for (;;) {
      const end = buffer.search(/\r\n|\r|\n/);
      // A CR that ends the chunk may be the first half of a CRLF split between two chunks: wait for the next.
      if (end < 0 || (end === buffer.length - 1 && buffer[end] === '\r')) return;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (data.length > 0 || event !== '') onEvent({ event: event || 'message', id, data: data.join('\n') });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Follows the gateway's changes until `signal` aborts. */
export async function followChanges(api: Api, handlers: LiveHandlers, signal: AbortSignal): Promise<void> {
  let lastId: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    handlers.mode('connecting');
    try {
      const response = await fetch('/admin/events', {
        headers: {
          authorization: `Bearer ${api.key}`,
          accept: 'text/event-stream',
          ...(lastId === undefined ? {} : { 'last-event-id': lastId }),
        },
        cache: 'no-store',
        signal,
      });
      if (!response.ok || response.body === null) throw new Error(`event stream: HTTP ${response.status}`);
      const parse = createSseParser((event) => {
        if (event.id !== undefined) lastId = event.id;
        let data: any;
        try {
          data = event.data === '' ? {} : JSON.parse(event.data);
        } catch {
          return;
        }
        if (event.event === 'ready') {
          failures = 0;
          handlers.mode('live');
          handlers.ready(Number(data.revision));
        } else if (event.event === 'change') handlers.change(Number(data.revision), Array.isArray(data.changes) ? data.changes : []);
        else if (event.event === 'reset') handlers.reset();
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
    } catch (error) {
      if (signal.aborted) return;
      handlers.mode('offline', (error as Error).message);
    }
    failures += 1;
    await sleep(Math.min(250 * 2 ** failures, 5_000), signal);
  }
}
