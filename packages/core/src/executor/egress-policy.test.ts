import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { createEgressPolicy, embeddedIpv4, parseEgressRule } from './egress-policy.js';
import type { EgressPolicy } from './egress-policy.js';

/** The URL parser's spelling of a host, which is what the executor checks. */
const hostOf = (spelling: string) => new URL(`http://${spelling}/`).hostname;

function ruleOf(policy: EgressPolicy, spelling: string): string | undefined {
  return policy.checkHost(hostOf(spelling))?.rule;
}

describe('egress policy', () => {
  const strict = createEgressPolicy();

  it('denies loopback, private, link-local, metadata and other special addresses by default', () => {
    const denied: Record<string, string> = {
      '127.0.0.1': 'loopback 127.0.0.0/8',
      '0x7f.1': 'loopback 127.0.0.0/8',
      '2130706433': 'loopback 127.0.0.0/8',
      '0177.0.0.1': 'loopback 127.0.0.0/8',
      '127.1': 'loopback 127.0.0.0/8',
      '[::1]': 'loopback ::1/128',
      '[::ffff:127.0.0.1]': 'loopback 127.0.0.0/8',
      '[::ffff:7f00:1]': 'loopback 127.0.0.0/8',
      '[::127.0.0.1]': 'loopback 127.0.0.0/8',
      '[64:ff9b::127.0.0.1]': 'loopback 127.0.0.0/8',
      '[2002:7f00:1::]': 'loopback 127.0.0.0/8',
      '[::ffff:0:127.0.0.1]': 'loopback 127.0.0.0/8',
      '10.1.2.3': 'private 10.0.0.0/8',
      '172.31.255.255': 'private 172.16.0.0/12',
      '192.168.0.1': 'private 192.168.0.0/16',
      '100.100.100.200': 'shared address space 100.64.0.0/10',
      '169.254.169.254': 'link-local and cloud metadata 169.254.0.0/16',
      '[::ffff:169.254.169.254]': 'link-local and cloud metadata 169.254.0.0/16',
      '[fd00:ec2::254]': 'unique local (private) fc00::/7',
      '[fe80::1]': 'link-local fe80::/10',
      '0.0.0.0': 'this network 0.0.0.0/8',
      '[::]': 'unspecified ::/128',
      '224.0.0.1': 'multicast 224.0.0.0/4',
      '[ff02::1]': 'multicast ff00::/8',
      '255.255.255.255': 'reserved and broadcast 240.0.0.0/4',
      '[2001::1]': 'IETF protocol assignments and Teredo 2001::/23',
    };
    for (const [spelling, rule] of Object.entries(denied)) {
      assert.equal(ruleOf(strict, spelling), rule, spelling);
    }
    assert.equal(strict.checkTarget('localhost')?.rule, 'loopback 127.0.0.0/8');
    assert.equal(strict.checkTarget('api.localhost')?.origin, 'built-in');
  });

  it('lets public addresses and host names through', () => {
    for (const spelling of ['8.8.8.8', '[2606:4700::1111]', '[::ffff:8.8.8.8]', '[64:ff9b::8.8.8.8]', 'api.example.com']) {
      assert.equal(ruleOf(strict, spelling), undefined, spelling);
    }
    assert.equal(strict.checkTarget('api.example.com'), undefined);
  });

  it('lets allow win over built-in denials, for every spelling of the address', () => {
    const policy = createEgressPolicy({ allow: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] });
    for (const spelling of ['127.0.0.1', '0x7f.0.0.1', '2130706433', '[::ffff:127.0.0.1]', '10.9.8.7', '[fd00::5]']) {
      assert.equal(ruleOf(policy, spelling), undefined, spelling);
    }
    assert.equal(ruleOf(policy, '127.0.0.2'), 'loopback 127.0.0.0/8');
    assert.equal(ruleOf(policy, '[::1]'), 'loopback ::1/128');
    assert.equal(ruleOf(policy, '169.254.169.254'), 'link-local and cloud metadata 169.254.0.0/16');
    // localhost is allowed at write time as soon as one of its addresses is.
    assert.equal(policy.checkTarget('localhost'), undefined);
  });

  it('lets deny win over everything, allow and host names included', () => {
    const policy = createEgressPolicy({
      allow: ['127.0.0.0/8', 'internal.example.com', '*.corp.example'],
      deny: ['127.0.0.2', 'blocked.example.com', '*.evil.example', '8.8.4.0/24'],
    });
    for (const spelling of ['127.0.0.2', '0x7f.0.0.2', '2130706434', '[::ffff:127.0.0.2]', '[::ffff:7f00:2]', '[64:ff9b::7f00:2]']) {
      const denial = policy.checkHost(hostOf(spelling));
      assert.equal(denial?.rule, '127.0.0.2', spelling);
      assert.equal(denial?.origin, 'deny', spelling);
    }
    assert.equal(ruleOf(policy, '127.0.0.1'), undefined);
    assert.equal(ruleOf(policy, '8.8.4.4'), '8.8.4.0/24');
    assert.equal(policy.checkHost('blocked.example.com')?.rule, 'blocked.example.com');
    assert.equal(policy.checkHost('BLOCKED.example.com.')?.rule, 'blocked.example.com');
    assert.equal(policy.checkHost('a.b.evil.example')?.rule, '*.evil.example');
    assert.equal(policy.checkHost('evil.example'), undefined, 'a wildcard does not cover the name itself');
    // A name on the allow-list may resolve to a denied range; an address rule of deny still wins.
    assert.equal(policy.checkAddress('internal.example.com', '10.0.0.5'), undefined);
    assert.equal(policy.checkAddress('x.corp.example', '169.254.169.254'), undefined);
    assert.equal(policy.checkAddress('internal.example.com', '127.0.0.2')?.rule, '127.0.0.2');
    assert.equal(policy.checkAddress('other.example.com', '10.0.0.5')?.rule, 'private 10.0.0.0/8');
    assert.equal(policy.checkAddress('blocked.example.com', '8.8.8.8')?.rule, 'blocked.example.com');
  });

  it('parses rules strictly and refuses what it cannot read', () => {
    assert.ok(parseEgressRule('10.0.0.0/8'));
    assert.ok(parseEgressRule('::1'));
    assert.ok(parseEgressRule('fc00::/7'));
    assert.ok(parseEgressRule('*.example.com'));
    assert.ok(parseEgressRule('api.example.com'));
    for (const bad of ['10.1', '012.0.0.1', '10.0.0.0/33', '::/129', '10.0.0.0/8/1', 'a b', '*', '*.', 'x/8', '1.2.3.4/', '300']) {
      assert.equal(parseEgressRule(bad), undefined, bad);
    }
    assert.throws(() => createEgressPolicy({ deny: ['10.1'] }), /executor\.egress\.deny: "10\.1" is not a CIDR/);
  });

  it('finds the IPv4 address embedded in IPv6 forms', () => {
    const embedded = (text: string) => embeddedIpv4(ipaddr.parse(text))?.toString();
    assert.equal(embedded('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(embedded('::10.0.0.1'), '10.0.0.1');
    assert.equal(embedded('64:ff9b::a00:1'), '10.0.0.1');
    assert.equal(embedded('2002:a00:1::1'), '10.0.0.1');
    assert.equal(embedded('::1'), undefined);
    assert.equal(embedded('::'), undefined);
    assert.equal(embedded('2606:4700::1111'), undefined);
  });
});
