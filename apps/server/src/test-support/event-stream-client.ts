/** One message of a Server-Sent Events stream; a comment line alone (`: ping`) comes as `comment`. */
export interface StreamMessage {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** An open `text/event-stream` response, read message by message. */
export interface EventStreamReader {
  status: number;
  headers: Headers;
  /** The body of a refused request (not a stream), parsed as JSON. */
  body?: any;
  /** The next message, comments included; rejects after `timeoutMs`, or when the stream ended. */
  next(timeoutMs?: number): Promise<StreamMessage>;
  /** The next message that is not a comment. */
  nextEvent(timeoutMs?: number): Promise<StreamMessage>;
  /** Resolves true once the server ended the stream (false after `timeoutMs`). */
  ended(timeoutMs?: number): Promise<boolean>;
  /** Goes away, as a closed browser tab does. */
  close(): void;
}

function parseBlock(block: string): StreamMessage {
  const message: StreamMessage = {};
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === '') message.comment = value;
    else if (field === 'event' || field === 'id') message[field] = value;
    else if (field === 'data') message.data = message.data === undefined ? value : `${message.data}\n${value}`;
  }
  return message;
}

/**
 * Opens a stream with fetch (real HTTP), as a script would; a browser's EventSource reads the same
 * bytes. A refused request resolves too, with its status and parsed body.
 */
export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let done = false;

  // A read that timed out stays pending and is awaited by the next fill, so no chunk is lost.
  let pending: ReturnType<typeof reader.read> | undefined;

  async function fill(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no event-stream message in time')), Math.max(0, deadline - Date.now()));
    });
    if (pending === undefined) {
      pending = reader.read();
      // Left pending when the test closes the stream: its rejection is expected, not unhandled.
      pending.catch(() => undefined);
    }
    try {
      const chunk = await Promise.race([pending, timeout]);
      pending = undefined;
      if (chunk.done) done = true;
      else buffer += chunk.value.replace(/\r\n?/g, '\n');
    } catch (error) {
      if ((error as Error).message !== 'no event-stream message in time') pending = undefined;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function next(timeoutMs = 2000): Promise<StreamMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return parseBlock(block);
      }
      if (done) throw new Error('the event stream ended');
      await fill(deadline);
    }
  }

  let body: any;
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const chunks: string[] = [];
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value);
    body = JSON.parse(chunks.join(''));
  }

  return {
    status: response.status,
    headers: response.headers,
    body,
    next,
    async nextEvent(timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const message = await next(Math.max(0, deadline - Date.now()));
        if (message.comment === undefined || message.event !== undefined || message.data !== undefined) return message;
      }
    },
    async ended(timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      try {
        while (!done) await fill(deadline);
        return true;
      } catch {
        return done;
      }
    },
    close: () => controller.abort(),
  };
}
