import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { unreachable } from '../admin-client.js';
import { CliError } from '../cli-error.js';
import { contextOf, type CliIo, type CommandContext } from '../context.js';

/** One Server-Sent Events message of `GET /admin/events` (docs/admin-api.md#change-stream). */
interface StreamMessage {
  event: string;
  id: string | undefined;
  data: string;
}

interface ChangedRecord {
  kind: string;
  id: string;
  op: string;
}

/** The gateway pings every 15 s; a stream silent for three pings is dead, whatever TCP thinks. */
const IDLE_MS = 45_000;
const RECONNECT_MS = 1_000;

/** Splits an event stream into messages (the WHATWG parsing rules, for the fields the gateway sends). */
async function* messagesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamMessage> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<'idle'>((resolve) => (timer = setTimeout(resolve, IDLE_MS, 'idle')));
      const chunk = await Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
      if (chunk === 'idle' || chunk.done) return;
      buffer += chunk.value.replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: StreamMessage = { event: 'message', id: undefined, data: '' };
        let fields = 0;
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue; // a comment: the keep-alive ping
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          fields += 1;
          if (field === 'event') message.event = value;
          else if (field === 'id') message.id = value;
          else if (field === 'data') message.data = message.data === '' ? value : `${message.data}\n${value}`;
        }
        if (fields > 0) yield message;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Opens the stream; a refusal is a {@link CliError} with the gateway's error code, like any admin call. */
async function open(context: CommandContext, since: string | undefined, resumeFrom: string | undefined, signal: AbortSignal) {
  const { url, key } = context.connection();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (resumeFrom !== undefined) headers['last-event-id'] = resumeFrom;
  const path = since === undefined ? '/admin/events' : `/admin/events?since=${encodeURIComponent(since)}`;
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, { headers, signal });
  } catch (error) {
    throw unreachable(url, error);
  }
  if (!response.ok || response.body === null) {
    const text = await response.text();
    let body: { error?: unknown; error_code?: unknown } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    const errorCode = typeof body?.error_code === 'string' ? body.error_code : undefined;
    const message = typeof body?.error === 'string' ? body.error : text.slice(0, 200) || response.statusText;
    const hint = response.status === 401 ? ' (give an admin key with --key, DYNMCP_API_KEY or a profile)' : '';
    throw new CliError(`the gateway refused GET ${path}: ${errorCode ?? response.status} (${response.status}): ${message}${hint}`, { errorCode });
  }
  return response.body;
}

/**
 * What `ready` means for this connection. The gateway sends it first, with its current revision,
 * and only then replays what changed after the revision asked for (`--since`, or the last one
 * printed before a reconnect): so it is not where the printing starts, and the note says both.
 */
function readyNote(url: string, revision: string, after: string | undefined, connects: number): string {
  const replays = after !== undefined && Number(after) < Number(revision);
  if (connects === 1) {
    return replays
      ? `watching ${url}: replaying the changes after revision ${after}, then following from revision ${revision} (Ctrl-C to stop)`
      : `watching ${url} from revision ${revision} (Ctrl-C to stop)`;
  }
  return replays ? `reconnected: replaying the changes after revision ${after}, then following from revision ${revision}` : `reconnected at revision ${revision}`;
}

/** Prints one message; `after` is the revision this connection asked to resume after, if any. */
function print(context: CommandContext, message: StreamMessage, after: string | undefined, connects: number) {
  const { out } = context;
  let data: { revision?: number; changes?: ChangedRecord[] };
  try {
    data = JSON.parse(message.data) as typeof data;
  } catch {
    return;
  }
  if (out.format === 'json') {
    context.io.stdout.write(`${JSON.stringify({ event: message.event, ...data })}\n`);
    return;
  }
  const revision = String(data.revision ?? message.id ?? '-');
  if (message.event === 'ready') {
    out.note(readyNote(context.connection().url, revision, after, connects));
  } else if (message.event === 'reset') {
    out.line(out.paint('yellow', `${revision}  reset   the gateway reloaded every definition: re-read what you need`));
  } else if (message.event === 'change') {
    for (const change of data.changes ?? []) {
      const op = out.paint(change.op === 'delete' ? 'red' : 'green', change.op.padEnd(6));
      out.line(`${revision}  ${op}  ${change.kind.padEnd(8)}  ${change.id}`);
    }
  }
}

/**
 * `dynmcp watch`: follows `GET /admin/events` and prints each change as it arrives, until
 * interrupted. When the stream breaks (a gateway restart, a proxy timeout) it reconnects with the
 * last revision it printed, so nothing is missed; the gateway answers `reset` if it cannot say.
 */
async function watch(context: CommandContext, since: string | undefined): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let lastId: string | undefined;
  let connects = 0;
  try {
    while (!stop.signal.aborted) {
      // The gateway resumes after the last revision printed (sent as Last-Event-ID), else after --since.
      const after = lastId ?? since;
      let body: ReadableStream<Uint8Array>;
      try {
        body = await open(context, since, lastId, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) return;
        // A refusal, or a gateway that was never there, is the caller's to fix; a lost one comes back.
        if (connects === 0 || (error as CliError).errorCode !== undefined) throw error;
        await sleep(RECONNECT_MS, undefined, { signal: stop.signal }).catch(() => undefined);
        continue;
      }
      connects += 1;
      try {
        for await (const message of messagesOf(body)) {
          if (message.id !== undefined) lastId = message.id;
          print(context, message, after, connects);
        }
      } catch {
        // The connection broke mid-stream, or the watch was stopped: which one is checked next.
      }
      if (stop.signal.aborted) return;
      context.out.note('the stream ended; reconnecting');
      await sleep(RECONNECT_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `watch`. */
export function registerWatch(program: Command, io: CliIo, run: (work: () => Promise<void>) => Promise<void>): void {
  program
    .command('watch')
    .description('print every change of tools and instances as the gateway applies it, until interrupted (-o json: one object per line)')
    .option('--since <revision>', 'first print what changed after this revision (e.g. the last one a previous watch printed)')
    .action((options: { since?: string }, command: Command) => run(() => watch(contextOf(command, io), options.since)));
}
