import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import type { EgressDenial, EgressPolicy } from './egress-policy.js';

/** Resolves a host name to all its addresses; `dns.lookup` (getaddrinfo, /etc/hosts included) by default. */
export type HostResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The `lookup` option of `net.connect`/`tls.connect`, in both of its calling conventions. */
export type ConnectLookup = (
  hostname: string,
  options: { family?: number | string; all?: boolean },
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** What a connection attempt fails with when every address of the host is refused by the egress policy. */
export class EgressDeniedError extends Error {
  readonly code = 'ERR_DYNMCP_EGRESS_DENIED';
  constructor(readonly denial: EgressDenial) {
    super(`egress to ${denial.host} denied by rule "${denial.rule}"`);
    this.name = 'EgressDeniedError';
  }
}

/** The {@link EgressDeniedError} in `error` or its `cause` chain (HTTP clients wrap socket errors). */
export function findEgressDenial(error: unknown): EgressDenial | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (current instanceof EgressDeniedError) return current.denial;
  }
  return undefined;
}

const familyOf = (family: number | string | undefined): number =>
  family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : typeof family === 'number' ? family : 0;

const defaultResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true });

/**
 * A `lookup` for the HTTP clients' sockets that resolves once, checks every address with the
 * egress policy and hands the socket only the addresses that passed: the socket connects to
 * exactly what was checked, with no second lookup a rebinding DNS server could answer
 * differently. When none passes, the connection fails with {@link EgressDeniedError} before any
 * packet is sent. IP literals never reach a lookup; the executor checks them itself.
 */
export function createEgressLookup(policy: EgressPolicy, resolve: HostResolver = defaultResolver): ConnectLookup {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const family = familyOf(options.family);
        const allowed: LookupAddress[] = [];
        let denial: EgressDenial | undefined;
        for (const entry of addresses) {
          if (family !== 0 && entry.family !== family) continue;
          const refused = policy.checkAddress(hostname, entry.address);
          if (refused === undefined) allowed.push(entry);
          else denial ??= refused;
        }
        const [first] = allowed;
        if (first === undefined) {
          const error =
            denial !== undefined
              ? new EgressDeniedError(denial)
              : Object.assign(new Error(`no address found for ${hostname}`), { code: 'ENOTFOUND' });
          callback(error, options.all === true ? [] : '', undefined);
        } else if (options.all === true) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, options.all === true ? [] : '', undefined),
    );
  };
}
