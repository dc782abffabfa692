/**
 * Which addresses http_request may connect to (issue 15, SSRF): the host must be on the
 * allow-list, and after DNS resolution every address it resolves to must be public, unless the
 * allow-list names that address itself. A name on the allow-list (`localhost` included) that
 * resolves to 127.0.0.1, 10.x, 169.254.169.254 (cloud metadata) or fd00::/8 is refused. The request then connects to the address that was checked, so a second
 * resolution cannot swap it (DNS rebinding).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RuntimeError } from '../../errors.ts';

const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network, unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is checked as the IPv4 address it carries. */
function unmapped(address: string): { address: string; family: 4 | 6 } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 4 };
  return { address, family: isIP(address) === 6 ? 6 : 4 };
}

export function isInternalAddress(address: string): boolean {
  const plain = unmapped(address);
  return INTERNAL.check(plain.address, plain.family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Resolves `hostname` and returns the address to connect to, or throws host_not_allowed when
 * it is internal and not named on the allow-list. `named` holds the allow-list's hosts
 * (lower-case, without ports).
 */
export async function checkedAddress(hostname: string, named: ReadonlySet<string>): Promise<CheckedAddress> {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(bare)) {
    addresses = [{ address: bare, family: isIP(bare) }];
  } else {
    try {
      addresses = await lookup(bare, { all: true, verbatim: true });
    } catch (err) {
      throw new RuntimeError(
        'tool_error',
        `http_request: cannot resolve ${bare} (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  }
  for (const { address } of addresses) {
    if (!isInternalAddress(address)) continue;
    if (named.has(address.toLowerCase()) || named.has(unmapped(address).address)) continue;
    throw new RuntimeError(
      'host_not_allowed',
      `http_request: ${bare} resolves to ${address}, a loopback, private or link-local address; ` +
        'only an allow-list entry naming that address admits it',
      { host: bare },
    );
  }
  const first = addresses[0];
  if (!first) throw new RuntimeError('tool_error', `http_request: ${bare} has no address`);
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
