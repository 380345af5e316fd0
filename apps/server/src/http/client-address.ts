import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * Says who a request comes from, the same way on every door: the failure limiter, the connection
 * cap and the callers handed to the gateway all key on it.
 */
export interface ClientAddressResolver {
  /**
   * The client address of a request: the socket's address, or, when the socket belongs to a
   * trusted proxy, the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
   */
  of(req: IncomingMessage): string;
  /** Whether a (normalised) socket address belongs to a trusted proxy. */
  isTrustedProxy(address: string): boolean;
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) becomes `10.0.0.1`, so one client has
 * one address whichever way it connected.
 */
export function normaliseAddress(address: string): string {
  if (address.charCodeAt(0) !== 58 /* ':' */) return address;
  const mapped = MAPPED_IPV4.exec(address);
  return mapped === null ? address : (mapped[1] as string);
}

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Builds the resolver from `server.trustedProxies` (addresses or CIDRs, validated by the config
 * schema). Without trusted proxies `X-Forwarded-For` is never read: anyone can write that header,
 * so honouring it unasked would let every request pick the address its failures count against.
 */
export function createClientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  const socketAddress = (req: IncomingMessage) => normaliseAddress(req.socket.remoteAddress ?? 'unknown');
  if (trustedProxies.length === 0) return { of: socketAddress, isTrustedProxy: () => false };

  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const slash = entry.indexOf('/');
    if (slash === -1) {
      const address = normaliseAddress(entry.trim());
      trusted.addAddress(address, familyOf(address));
    } else {
      const network = entry.slice(0, slash).trim();
      trusted.addSubnet(network, Number(entry.slice(slash + 1)), familyOf(network));
    }
  }
  const isTrustedProxy = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return {
    isTrustedProxy,
    of(req) {
      const socket = socketAddress(req);
      if (!isTrustedProxy(socket)) return socket;
      const header = req.headers['x-forwarded-for'];
      if (header === undefined) return socket;
      // Each proxy appends the address it received the request from, so entries are believable
      // only from the right, up to and including the first one a trusted proxy did not send.
      const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
      let client = socket;
      for (let i = hops.length - 1; i >= 0; i -= 1) {
        const hop = normaliseAddress((hops[i] as string).trim().toLowerCase());
        // Not an address (a port suffix, "unknown", garbage): the last trusted hop is as far as
        // the chain can be followed.
        if (isIP(hop) === 0) break;
        client = hop;
        if (!isTrustedProxy(hop)) break;
      }
      return client;
    },
  };
}
