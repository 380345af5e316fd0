import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { GatewayError } from '@dynmcp/plugin';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/** Where the rule that refused a target comes from: the built-in list or executor.egress.deny. */
export type EgressRuleOrigin = 'built-in' | 'deny';

/** Why a target was refused: the rule that matched, in words an operator can act on. */
export interface EgressDenial {
  /** The host as the tool names it (`api.example.com`, `127.0.0.2`). */
  readonly host: string;
  /** The address refused; absent when a host-name rule refused the name itself. */
  readonly address: string | undefined;
  /** The rule as written in the setting, or `loopback 127.0.0.0/8` for a built-in one. */
  readonly rule: string;
  readonly origin: EgressRuleOrigin;
}

/** The settings of an egress policy (executor.egress.allow / executor.egress.deny). */
export interface EgressPolicyOptions {
  /** CIDRs, addresses and host names let through although a built-in rule denies them. */
  allow?: readonly string[];
  /** CIDRs, addresses and host names always refused, whatever else says. */
  deny?: readonly string[];
}

/** Decides which upstream hosts and addresses an `http` tool may reach. */
export interface EgressPolicy {
  /**
   * The call-time check of a URL host before anything is sent: host-name rules, and for an IP
   * literal (which skips DNS) the address rules too. Host names are checked on each resolved
   * address by {@link createEgressLookup}. `undefined` means go ahead.
   */
  checkHost(host: string): EgressDenial | undefined;
  /** The check of one address `host` resolved to, at connect time. */
  checkAddress(host: string, address: string): EgressDenial | undefined;
  /**
   * The write-time check of a tool's host: what {@link checkHost} refuses, plus `localhost` names,
   * which always mean loopback (RFC 6761 §6.3), when neither 127.0.0.1 nor ::1 would be allowed.
   */
  checkTarget(host: string): EgressDenial | undefined;
}

interface AddressRule {
  readonly text: string;
  readonly range: Range;
}

/**
 * What is denied unless `executor.egress.allow` says otherwise: everything that is not a public
 * unicast address, so a tool cannot reach the gateway's own machine, its network, or the cloud
 * metadata service at 169.254.169.254. IPv6 addresses that embed an IPv4 address are judged by
 * that IPv4 address (see {@link embeddedIpv4}).
 */
export const BUILT_IN_DENIED: readonly { readonly label: string; readonly cidr: string }[] = [
  { label: 'this network', cidr: '0.0.0.0/8' },
  { label: 'private', cidr: '10.0.0.0/8' },
  { label: 'shared address space', cidr: '100.64.0.0/10' },
  { label: 'loopback', cidr: '127.0.0.0/8' },
  { label: 'link-local and cloud metadata', cidr: '169.254.0.0/16' },
  { label: 'private', cidr: '172.16.0.0/12' },
  { label: 'IETF protocol assignments', cidr: '192.0.0.0/24' },
  { label: 'documentation', cidr: '192.0.2.0/24' },
  { label: '6to4 relay anycast', cidr: '192.88.99.0/24' },
  { label: 'private', cidr: '192.168.0.0/16' },
  { label: 'benchmarking', cidr: '198.18.0.0/15' },
  { label: 'documentation', cidr: '198.51.100.0/24' },
  { label: 'documentation', cidr: '203.0.113.0/24' },
  { label: 'multicast', cidr: '224.0.0.0/4' },
  { label: 'reserved and broadcast', cidr: '240.0.0.0/4' },
  { label: 'unspecified', cidr: '::/128' },
  { label: 'loopback', cidr: '::1/128' },
  { label: 'IPv4-compatible', cidr: '::/96' },
  { label: 'local-use NAT64', cidr: '64:ff9b:1::/48' },
  { label: 'discard-only', cidr: '100::/64' },
  { label: 'IETF protocol assignments and Teredo', cidr: '2001::/23' },
  { label: 'documentation', cidr: '2001:db8::/32' },
  { label: 'documentation', cidr: '3fff::/20' },
  { label: 'unique local (private)', cidr: 'fc00::/7' },
  { label: 'link-local', cidr: 'fe80::/10' },
  { label: 'site-local', cidr: 'fec0::/10' },
  { label: 'multicast', cidr: 'ff00::/8' },
];

const BUILT_IN_RULES: readonly AddressRule[] = BUILT_IN_DENIED.map(({ label, cidr }) => ({
  text: `${label} ${cidr}`,
  range: ipaddr.parseCIDR(cidr),
}));

const MAPPED = ipaddr.parseCIDR('::ffff:0:0/96');
const TRANSLATED = ipaddr.parseCIDR('::ffff:0:0:0/96');
const COMPATIBLE = ipaddr.parseCIDR('::/96');
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');

function ipv4FromParts(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/**
 * The IPv4 address an IPv6 address stands for, if any: IPv4-mapped (`::ffff:127.0.0.1`, which a
 * dual-stack socket really sends to 127.0.0.1), IPv4-translated (`::ffff:0:127.0.0.1`, RFC 6145),
 * IPv4-compatible (`::127.0.0.1`), NAT64 (`64:ff9b::7f00:1`, RFC 6052) and 6to4 (`2002:7f00:1::`,
 * RFC 3056). `::`, `::1` and the rest of `::/96` below `::1:0:0` embed nothing.
 */
export function embeddedIpv4(address: Address): ipaddr.IPv4 | undefined {
  if (address.kind() === 'ipv4') return undefined;
  const parts = (address as ipaddr.IPv6).parts;
  const tail = () => ipv4FromParts(parts[6] ?? 0, parts[7] ?? 0);
  if (address.match(MAPPED) || address.match(TRANSLATED) || address.match(NAT64)) return tail();
  if (address.match(COMPATIBLE)) return (parts[6] ?? 0) === 0 ? undefined : tail();
  if (address.match(SIX_TO_FOUR)) return ipv4FromParts(parts[1] ?? 0, parts[2] ?? 0);
  return undefined;
}

function matches(address: Address, range: Range): boolean {
  return address.kind() === range[0].kind() && address.match(range);
}

/** A host-name rule: an exact name, or `*.example.com` for every name below example.com. */
interface NameRule {
  readonly text: string;
  /** `api.example.com` for an exact rule, `.example.com` for a wildcard. */
  readonly name: string;
  readonly wildcard: boolean;
}

interface ParsedRules {
  addresses: AddressRule[];
  names: NameRule[];
}

// A DNS label: letters, digits, `-` and `_` (service names such as `_sip` use it).
const LABEL = /^[a-z0-9_-]{1,63}$/;

/** A DNS name whose last label is not all digits (a URL parser would read that as an IPv4 address). */
function isHostName(name: string): boolean {
  const labels = name.split('.');
  return name.length <= 253 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels.at(-1) ?? '');
}

/** Lower-case, without the trailing dot of a fully qualified name. */
function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Parses one entry of executor.egress.allow or .deny; `undefined` when it is none of the forms. */
export function parseEgressRule(entry: string): { address: AddressRule } | { name: NameRule } | undefined {
  const text = entry.trim();
  const [base = '', prefix, extra] = text.split('/');
  if (extra === undefined && isIP(base) !== 0) {
    // Canonical forms only (`10.0.0.1`, not `10.1` or `012.0.0.1`): what an operator reads is what is matched.
    if (isIP(base) === 4 && !ipaddr.IPv4.isValidFourPartDecimal(base)) return undefined;
    const address = ipaddr.parse(base);
    const bits = prefix === undefined ? (address.kind() === 'ipv4' ? 32 : 128) : Number(prefix);
    const max = address.kind() === 'ipv4' ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix ?? '0') || !Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
    return { address: { text, range: [address, bits] } };
  }
  if (prefix !== undefined) return undefined;
  const wildcard = text.startsWith('*.');
  const name = normaliseName(wildcard ? text.slice(2) : text);
  if (!isHostName(name)) return undefined;
  return { name: { text, name: wildcard ? `.${name}` : name, wildcard } };
}

function parseRules(entries: readonly string[], setting: string): ParsedRules {
  const rules: ParsedRules = { addresses: [], names: [] };
  for (const entry of entries) {
    const rule = parseEgressRule(entry);
    if (rule === undefined) {
      throw new GatewayError(
        'INTERNAL_ERROR',
        `${setting}: "${entry}" is not a CIDR (10.0.0.0/8), an address (10.0.0.1, ::1) or a host name (api.example.com, *.example.com)`,
      );
    }
    if ('address' in rule) rules.addresses.push(rule.address);
    else rules.names.push(rule.name);
  }
  return rules;
}

function nameMatch(host: string, rules: readonly NameRule[]): NameRule | undefined {
  if (rules.length === 0) return undefined;
  const name = normaliseName(host);
  return rules.find((rule) => (rule.wildcard ? name.endsWith(rule.name) : name === rule.name));
}

function addressMatch(address: Address, embedded: ipaddr.IPv4 | undefined, rules: readonly AddressRule[]): AddressRule | undefined {
  return rules.find((rule) => matches(address, rule.range) || (embedded !== undefined && matches(embedded, rule.range)));
}

/** Strips the brackets URL#hostname keeps around IPv6 literals. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** RFC 6761 §6.3: `localhost` and every name below it are loopback, whatever DNS says. */
function isLocalhostName(host: string): boolean {
  const name = normaliseName(host);
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Creates the egress policy of the http executor. Order of precedence: a `deny` rule (address or
 * name) refuses; else an `allow` rule lets through; else a {@link BUILT_IN_DENIED} range refuses;
 * else the address is public and allowed.
 * @throws GatewayError `INTERNAL_ERROR` naming an entry that is not a CIDR, address or host name.
 */
export function createEgressPolicy(options: EgressPolicyOptions = {}): EgressPolicy {
  const allow = parseRules(options.allow ?? [], 'executor.egress.allow');
  const deny = parseRules(options.deny ?? [], 'executor.egress.deny');

  function judge(host: string, text: string, address: Address, nameAllowed: boolean): EgressDenial | undefined {
    const embedded = embeddedIpv4(address);
    const denied = addressMatch(address, embedded, deny.addresses);
    if (denied !== undefined) return { host, address: text, rule: denied.text, origin: 'deny' };
    if (nameAllowed || addressMatch(address, embedded, allow.addresses) !== undefined) return undefined;
    // An address embedding an IPv4 address goes where that address goes: judge it by that one alone.
    const builtIn = embedded !== undefined ? addressMatch(embedded, undefined, BUILT_IN_RULES) : addressMatch(address, undefined, BUILT_IN_RULES);
    return builtIn === undefined ? undefined : { host, address: text, rule: builtIn.text, origin: 'built-in' };
  }

  function checkName(host: string): EgressDenial | undefined {
    const denied = nameMatch(host, deny.names);
    return denied === undefined ? undefined : { host, address: undefined, rule: denied.text, origin: 'deny' };
  }

  // checkHost runs on every call with one of few hosts; the rules never change, so verdicts are kept.
  const hostVerdicts = new Map<string, EgressDenial | null>();

  const policy: EgressPolicy = {
    checkHost(host) {
      const known = hostVerdicts.get(host);
      if (known !== undefined) return known ?? undefined;
      const bare = unbracket(host);
      const denial = isIP(bare) === 0 ? checkName(host) : judge(host, bare, ipaddr.parse(bare), false);
      if (hostVerdicts.size >= 1_024) hostVerdicts.clear();
      hostVerdicts.set(host, denial ?? null);
      return denial;
    },
    checkAddress(host, address) {
      const byName = checkName(host);
      if (byName !== undefined) return byName;
      return judge(host, address, ipaddr.parse(address), nameMatch(host, allow.names) !== undefined);
    },
    checkTarget(host) {
      const denial = policy.checkHost(host);
      if (denial !== undefined || !isLocalhostName(host)) return denial;
      const v4 = policy.checkAddress(host, '127.0.0.1');
      return v4 !== undefined && policy.checkAddress(host, '::1') !== undefined ? v4 : undefined;
    },
  };
  return policy;
}

/** Where an operator changes what refused `denial`, for messages. */
export function egressRemedy(denial: EgressDenial): string {
  switch (denial.origin) {
    case 'deny':
      return `rule "${denial.rule}" of executor.egress.deny (DYNMCP_EGRESS_DENY)`;
    case 'built-in':
      return `built-in rule "${denial.rule}"; to reach it, add it to executor.egress.allow (DYNMCP_EGRESS_ALLOW)`;
  }
}
