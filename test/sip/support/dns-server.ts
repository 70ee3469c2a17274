import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** Records of one name, as the test zone holds them. */
export interface ZoneRecords {
  readonly a?: readonly string[];
  readonly aaaa?: readonly string[];
  readonly srv?: readonly { priority: number; weight: number; port: number; target: string }[];
  readonly naptr?: readonly {
    order: number;
    preference: number;
    flags: string;
    service: string;
    regexp: string;
    replacement: string;
  }[];
}

const TYPE = { A: 1, AAAA: 28, SRV: 33, NAPTR: 35 } as const;

/**
 * A small authoritative DNS server on UDP for tests (RFC 1035 wire format): answers A, AAAA, SRV and NAPTR
 * from `zone`, NODATA for other types of a known name, NXDOMAIN for unknown names. Node's resolver (c-ares)
 * queries it through `resolver.setServers(['127.0.0.1:<port>'])`. `queries` records every question asked.
 */
export async function startDnsServer(
  zone: Readonly<Record<string, ZoneRecords>>,
): Promise<{ port: number; queries: string[]; close: () => Promise<void> }> {
  const socket: Socket = createSocket('udp4');
  const queries: string[] = [];
  const names = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  socket.on('message', (query, rinfo) => {
    let offset = 12;
    const labels: string[] = [];
    while (query[offset]! !== 0) {
      const length = query[offset]!;
      labels.push(query.toString('latin1', offset + 1, offset + 1 + length));
      offset += 1 + length;
    }
    const questionEnd = offset + 5;
    const type = query.readUInt16BE(offset + 1);
    const name = labels.join('.').toLowerCase();
    const typeName = Object.entries(TYPE).find(([, t]) => t === type)?.[0] ?? String(type);
    queries.push(`${typeName} ${name}`);
    const records = names.get(name);
    const answers = records ? rdatas(records, type) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // QR, opcode 0, AA, RD copied; RCODE 3 (NXDOMAIN) for a name the zone does not have.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (records ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts: Buffer[] = [header, query.subarray(12, questionEnd)];
    for (const rdata of answers) {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the owner name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(rdata.length, 10);
      parts.push(rr, rdata);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function rdatas(records: ZoneRecords, type: number): Buffer[] {
  switch (type) {
    case TYPE.A:
      return (records.a ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
    case TYPE.AAAA:
      return (records.aaaa ?? []).map(ipv6Bytes);
    case TYPE.SRV:
      return (records.srv ?? []).map((r) => {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(r.priority, 0);
        fixed.writeUInt16BE(r.weight, 2);
        fixed.writeUInt16BE(r.port, 4);
        return Buffer.concat([fixed, domainName(r.target)]);
      });
    case TYPE.NAPTR:
      return (records.naptr ?? []).map((r) => {
        const fixed = Buffer.alloc(4);
        fixed.writeUInt16BE(r.order, 0);
        fixed.writeUInt16BE(r.preference, 2);
        return Buffer.concat([
          fixed,
          characterString(r.flags),
          characterString(r.service),
          characterString(r.regexp),
          domainName(r.replacement),
        ]);
      });
    default:
      return [];
  }
}

function domainName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map(characterString), Buffer.from([0])]);
}

function characterString(text: string): Buffer {
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text, 'latin1')]);
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`not IPv6: ${ip}`);
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
