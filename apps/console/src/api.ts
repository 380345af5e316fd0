// The console's only way to the gateway: the admin API, same origin, the key in the Authorization
// header. The key lives in sessionStorage (gone when the tab closes) and never in a URL, so it
// reaches neither history, logs nor a Referer.

const KEY_ITEM = 'dynmcp.console.key';

/** The admin key of this tab, if signed in. */
export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_ITEM) ?? undefined;
}

export function storeKey(key: string | undefined): void {
  if (key === undefined) sessionStorage.removeItem(KEY_ITEM);
  else sessionStorage.setItem(KEY_ITEM, key);
}

/** An error answer of the admin API: its status, stable code, message and details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A success answer: the envelope's `data` and `meta`, and the record's revision (ETag). */
export interface ApiAnswer<T> {
  data: T;
  meta: Record<string, unknown> | undefined;
  etag: string | undefined;
}

export interface Api {
  key: string;
  call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer<T>>;
}

export function createApi(key: string): Api {
  return {
    key,
    async call(method, path, body, headers = {}) {
      let response: Response;
      try {
        response = await fetch(path, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: 'no-store',
        });
      } catch {
        throw new ApiError(0, 'NETWORK', 'the gateway did not answer; is it running?');
      }
      const text = await response.text();
      let parsed: any;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        throw new ApiError(
          response.status,
          typeof parsed?.error_code === 'string' ? parsed.error_code : `HTTP_${response.status}`,
          typeof parsed?.error === 'string' ? parsed.error : `${method} ${path}: HTTP ${response.status}`,
          parsed?.details,
        );
      }
      return { data: parsed?.data, meta: parsed?.meta, etag: response.headers.get('etag') ?? undefined };
    },
  };
}

/** A path segment for an id (ids may hold `:` and `.`). */
export const seg = (id: string) => encodeURIComponent(id);

/** The message of any error, for display. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
