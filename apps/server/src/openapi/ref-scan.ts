import { localRefResolves } from '@dynmcp/common';
import { GatewayError } from '@dynmcp/plugin';

/** Escapes one JSON Pointer token (RFC 6901 §3). */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Checks every `$ref` of the document before a resolver sees it: a reference to another file or a
 * URL is refused (an import never reads files or the network: that would let an admin request
 * reach internal hosts), and a local one must point at something. Iterative, so a deeply nested
 * document cannot overflow the stack here. Messages carry the JSON Pointer of the `$ref`.
 * @throws GatewayError `INVALID_OPENAPI`.
 */
export function assertLocalRefs(root: unknown): void {
  const stack: { node: unknown; at: string }[] = [{ node: root, at: '' }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { node, at } = entry;
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((child, index) => stack.push({ node: child, at: `${at}/${index}` }));
      continue;
    }
    const record = node as Record<string, unknown>;
    const ref = record['$ref'];
    if (typeof ref === 'string') {
      if (!ref.startsWith('#')) {
        throw new GatewayError(
          'INVALID_OPENAPI',
          `${at}/$ref: "${ref.slice(0, 200)}" points outside the document; remote and file references are never fetched: inline them (e.g. with a bundler) and import again`,
        );
      }
      if (!localRefResolves(root, ref)) {
        throw new GatewayError('INVALID_OPENAPI', `${at}/$ref: "${ref.slice(0, 200)}" points at nothing in the document`);
      }
    }
    for (const [key, child] of Object.entries(record)) {
      if (child !== null && typeof child === 'object') stack.push({ node: child, at: `${at}/${pointerToken(key)}` });
    }
  }
}
