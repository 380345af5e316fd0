import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';

/** Where the next page starts: after the tool named `after`, in a listing of definitions `revision`. */
export interface ToolsCursor {
  after: string;
  /** Registry revision when the previous page was served (informational: paging is by name). */
  revision: number;
}

// Tool names are `^[A-Za-z0-9_.-]{1,128}$` (they can never hold the `:` separator).
const CURSOR_TEXT = /^(0|[1-9][0-9]{0,15}):([A-Za-z0-9_.-]{1,128})$/;

/** Encodes a cursor: opaque base64url of `<revision>:<last name>`. Clients must not parse it. */
export function encodeToolsCursor(cursor: ToolsCursor): string {
  return Buffer.from(`${cursor.revision}:${cursor.after}`, 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeToolsCursor}; `undefined` for anything else. */
export function decodeToolsCursor(text: string): ToolsCursor | undefined {
  if (text.length === 0 || text.length > 256 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url');
  // Re-encoding must give the same text: refuses padding tricks and trailing garbage bits.
  if (decoded.toString('base64url') !== text) return undefined;
  const match = CURSOR_TEXT.exec(decoded.toString('utf8'));
  if (match === null) return undefined;
  return { revision: Number(match[1]), after: match[2] as string };
}

/** One page of a listing. */
export interface ToolsPage<T> {
  tools: T[];
  nextCursor?: string;
}

/**
 * The page of `listings` (sorted by name, as instance views hold them) that a `tools/list` with
 * `cursor` asks for. Pages are keyed by the last name served, not by an offset, so a live edit
 * between two pages never repeats or skips a tool that exists in both listings: a tool added
 * before the cursor's name is not in this pass, a removed one simply no longer appears (clients
 * are told to re-list by `notifications/tools/list_changed`).
 * @throws ProtocolError `InvalidParams` for a cursor this gateway did not make (MCP
 *   2025-11-25 server/utilities/pagination: invalid cursors SHOULD be -32602).
 */
export function pageOfTools<T extends { name: string }>(
  listings: readonly T[],
  cursor: string | undefined,
  pageSize: number,
  revision: number,
): ToolsPage<T> {
  let start = 0;
  if (cursor !== undefined) {
    const position = decodeToolsCursor(cursor);
    if (position === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
    start = firstAfter(listings, position.after);
  }
  const tools = listings.slice(start, start + pageSize);
  const last = tools.at(-1);
  if (start + pageSize >= listings.length || last === undefined) return { tools };
  return { tools, nextCursor: encodeToolsCursor({ after: last.name, revision }) };
}

/** Index of the first listing whose name sorts after `name` (binary search; same order as the view's sort). */
function firstAfter(listings: readonly { name: string }[], name: string): number {
  let low = 0;
  let high = listings.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((listings[middle] as { name: string }).name <= name) low = middle + 1;
    else high = middle;
  }
  return low;
}
