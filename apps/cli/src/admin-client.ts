import { CliError } from './cli-error.js';
import type { Connection } from './settings.js';

/** The success envelope of the admin API (docs/admin-api.md): `data`, and `meta` where there is more to say. */
export interface AdminAnswer<T> {
  data: T;
  meta: Record<string, unknown> | undefined;
}

/** A client of one gateway's admin API. */
export interface AdminClient {
  request<T>(method: string, path: string, body?: unknown): Promise<AdminAnswer<T>>;
}

// Long enough for an import of a large document; short enough that a frozen gateway does not hang a CI job.
const TIMEOUT_MS = 60_000;

/** Why `fetch` failed, in words: node's undici hides the socket error in `cause`. */
export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason =
    (error as Error).name === 'TimeoutError'
      ? `no answer within ${TIMEOUT_MS / 1000} s`
      : cause?.code === 'ECONNREFUSED'
        ? 'connection refused'
        : (cause?.code ?? cause?.message ?? (error as Error).message);
  return new CliError(`cannot reach the gateway at ${url} (${reason}); is it running? Set the address with --url, DYNMCP_URL or a profile`, { cause: error });
}

/** Whether an answer says the write was stored but not yet applied by the gateway that took it (`applied: false`). */
function notApplied(data: unknown, meta: Record<string, unknown> | undefined): boolean {
  return meta?.applied === false || (typeof data === 'object' && data !== null && (data as { applied?: unknown }).applied === false);
}

/**
 * Calls the admin API with the key as a bearer token. A refusal becomes a {@link CliError} carrying
 * the gateway's `error_code` and message; an unreachable gateway one that says so. A write the
 * gateway stored but had not applied when its wait ran out is told to `warn` (the CLI's stderr).
 */
export function createAdminClient(connection: Connection, warn: (text: string) => void = () => {}): AdminClient {
  return {
    async request<T>(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (connection.key !== undefined) headers.authorization = `Bearer ${connection.key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(`${connection.url}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (error) {
        throw unreachable(connection.url, error);
      }
      const text = await response.text();
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const errorCode = typeof parsed?.error_code === 'string' ? parsed.error_code : undefined;
        const message = typeof parsed?.error === 'string' ? parsed.error : text.slice(0, 200) || response.statusText;
        const hint = response.status === 401 ? ' (give an admin key with --key, DYNMCP_API_KEY or a profile)' : '';
        throw new CliError(`the gateway refused ${method} ${path}: ${errorCode ?? response.status} (${response.status}): ${message}${hint}`, {
          errorCode,
        });
      }
      if (parsed === undefined || !('data' in parsed)) {
        throw new CliError(`${method} ${connection.url}${path} did not answer with the admin API's envelope; is this a DynMCP gateway?`);
      }
      const meta = parsed.meta as Record<string, unknown> | undefined;
      if (notApplied(parsed.data, meta)) {
        warn(
          `warning: the gateway stored this change but had not applied it when its wait ran out; its MCP endpoints may not show it yet ` +
            '(is its store feed behind? `dynmcp status` shows how far each replica has applied)',
        );
      }
      return { data: parsed.data as T, meta };
    },
  };
}
