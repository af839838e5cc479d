// A list of IP addresses and CIDR ranges (allow lists: METRICS_ALLOW_FROM, a compat peer's
// allow_from), matched with node's BlockList. IPv4 clients seen through an IPv6 socket
// (::ffff:1.2.3.4) match their IPv4 entries.
import { BlockList, isIP } from 'node:net';

export class AddressList {
  private readonly list = new BlockList();

  /** Throws a plain Error naming the first entry that is neither an address nor a CIDR range. */
  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) addEntry(this.list, entry);
  }

  includes(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped ? mapped[1]! : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

function addEntry(list: BlockList, entry: string): void {
  const [address = '', prefixText, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) {
    list.addAddress(address, type);
    return;
  }
  const prefix = Number(prefixText);
  if (!/^\d+$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw new Error(`"${entry}" has a bad prefix length`);
  list.addSubnet(address, prefix, type);
}
