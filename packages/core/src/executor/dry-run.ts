import type { Principal, ToolCallContext, ToolDefinition, ToolExecutor } from '@dynmcp/plugin';
import type { CompiledHttpTool } from './http-tool-config.js';
import type { BuiltRequest } from './request-builder.js';

/** What replaces a credential in a shown request. */
export const MASK = '***';
/** Largest request or response body shown to an operator, in bytes; longer ones are cut and flagged. */
export const SHOWN_BODY_BYTES = 64 * 1024;

/** An upstream request as shown to an operator: credentials masked, body as bounded text. */
export interface RequestPreview {
  method: string;
  /** Configured query parameters (`ext_info.query`) and credential-like ones carry {@link MASK}. */
  url: string;
  /** Lower-case names; every value from a template (`${env:…}`, `${secret:…}`, `${claim:…}`, `${principal:…}`) or of a credential-like name is {@link MASK}. */
  headers: Record<string, string>;
  /** The body as UTF-8 text, at most {@link SHOWN_BODY_BYTES}; absent for no body. */
  body?: string;
  body_bytes?: number;
  body_truncated?: boolean;
}

/** The outcome of {@link PreparingExecutor.prepare}: the request a call would send, or the tool error it would answer instead. */
export type PreparedCall =
  | {
      ok: true;
      request: RequestPreview;
      /** The call would be refused before sending: the target, the egress rule and the setting naming it. */
      wouldBeRefused?: string;
    }
  | { ok: false; message: string };

/** An executor that can say what a call would send without sending it. */
export interface PreparingExecutor extends ToolExecutor {
  /**
   * Builds the call's request exactly as `execute` would for `caller` (whose `${claim:…}` and
   * `${principal:…}` values it reads), masks its credentials, and sends nothing.
   */
  prepare(tool: ToolDefinition, args: Record<string, unknown>, caller?: Principal): Promise<PreparedCall>;
}

/** True when `executor` can answer a dry run. */
export function canPrepare(executor: ToolExecutor): executor is PreparingExecutor {
  return typeof (executor as Partial<PreparingExecutor>).prepare === 'function';
}

/** The final upstream answer of one call, as the executor received it (configured query credentials already removed). */
export interface UpstreamExchange {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The decoded body, within the tool's size cap; empty for an event stream read event by event. */
  body: Buffer;
  /** The answer was an event stream whose events became the result. */
  streamed: boolean;
}

/** Hears the final upstream answer of one call; the admin API's test calls pass one, MCP calls never do. */
export type UpstreamObserver = (exchange: UpstreamExchange) => void;

/** A call context that may carry an {@link UpstreamObserver}. */
export interface ObservedCallContext extends ToolCallContext {
  observeUpstream?: UpstreamObserver | undefined;
}

// Names whose values are credentials whatever their origin: RFC 9110 authentication headers, cookies,
// and the usual spellings of API keys and tokens.
const CREDENTIAL_NAME = /^(?:authorization|proxy-authorization|cookie|set-cookie)$|api[-_]?key|token|secret|passw|credential|signature|session|auth/i;

/** True when a header or query parameter named `name` usually carries a credential. */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/** `body` as UTF-8 text, at most {@link SHOWN_BODY_BYTES} of it. */
export function shownBody(body: string | Buffer): { body: string; body_bytes: number; body_truncated: boolean } {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const truncated = bytes.length > SHOWN_BODY_BYTES;
  // A cut inside a multi-byte character decodes to U+FFFD: harmless for reading.
  const text = (truncated ? bytes.subarray(0, SHOWN_BODY_BYTES) : bytes).toString('utf8');
  return { body: text, body_bytes: bytes.length, body_truncated: truncated };
}

/** The built request of `tool` with its credentials masked: what an operator may see of it. */
export function previewRequest(tool: CompiledHttpTool, request: BuiltRequest): RequestPreview {
  const templated = new Set(tool.headers.filter((header) => header.value.references.length > 0).map((header) => header.name));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = templated.has(name) || isCredentialName(name) ? MASK : value;
  }
  const url = new URL(request.url.href);
  if (url.search !== '') {
    const configured = new Set(tool.queryCredentials.map((parameter) => parameter.name));
    const masked = (name: string) => configured.has(name) || isCredentialName(name);
    // Rewritten only when something is masked, so an unmasked query shows exactly as sent.
    if ([...url.searchParams.keys()].some(masked)) {
      const shown = new URLSearchParams();
      for (const [name, value] of url.searchParams) shown.append(name, masked(name) ? MASK : value);
      url.search = shown.toString();
    }
  }
  const preview: RequestPreview = { method: request.method, url: url.href, headers };
  return request.body === undefined ? preview : { ...preview, ...shownBody(request.body) };
}
