/**
 * A small MaxMind DB (format 2.0) writer for tests: real `.mmdb` files, read by the real reader
 * (the `maxmind` package), with exactly the networks and records a test needs. No well-kept
 * writer exists on npm (MaxMind's own are in Go and Perl), and a test must not depend on a
 * 60 MB download. The format is MaxMind's published spec: a binary search tree of 24-, 28- or
 * 32-bit records, 16 zero bytes, a data section, then the metadata after its marker.
 */
import ipaddr from 'ipaddr.js';

/** A value the writer encodes with a given MaxMind DB type instead of the one it would infer. */
class Typed {
  constructor(
    readonly type: 'uint16' | 'uint64',
    readonly value: number,
  ) {}
}

export interface MmdbNetwork {
  /** An IPv4 or IPv6 network, e.g. `81.2.69.0/24` or `2a02:c7f::/32`, or a single address. */
  readonly cidr: string;
  /** The record: a GeoIP2 City shape for City databases. */
  readonly record: Record<string, unknown>;
}

export interface MmdbOptions {
  readonly databaseType?: string;
  /** Seconds since the epoch. */
  readonly buildEpoch?: number;
  readonly recordSize?: 24 | 28 | 32;
  readonly ipVersion?: 4 | 6;
}

/** A GeoIP2 City record, as MaxMind writes one. Omit `city` or `radius` for a country-level one. */
export function cityRecord(p: { country: string; region?: string; city?: string; lat: number; lon: number; radius?: number }): Record<string, unknown> {
  const r: Record<string, unknown> = {
    continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe', de: 'Europa' } },
    country: { geoname_id: 1, iso_code: p.country, names: { en: p.country } },
    registered_country: { geoname_id: 1, iso_code: p.country, names: { en: p.country } },
    location: { latitude: p.lat, longitude: p.lon, time_zone: 'UTC', ...(p.radius === undefined ? {} : { accuracy_radius: new Typed('uint16', p.radius) }) },
  };
  if (p.city !== undefined) r.city = { geoname_id: 2, names: { en: p.city, de: `${p.city} (de)` } };
  if (p.region !== undefined) r.subdivisions = [{ geoname_id: 3, iso_code: p.region, names: { en: p.region } }];
  return r;
}

interface Node {
  l: Node | number | null;
  r: Node | number | null;
}

/** The network's bits in the tree: IPv4 under ::/96 of an IPv6 tree, as MaxMind lays them out. */
function bitsOf(cidr: string, ipVersion: 4 | 6): { bits: number[]; prefix: number }[] {
  const [addr, prefix] = cidr.includes('/') ? ipaddr.parseCIDR(cidr) : [ipaddr.parse(cidr), ipaddr.parse(cidr).kind() === 'ipv4' ? 32 : 128];
  const bytes = addr.toByteArray();
  const toBits = (bs: number[]) => bs.flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((i) => (b >> i) & 1));
  if (addr.kind() === 'ipv6') {
    if (ipVersion === 4) throw new Error(`${cidr}: IPv6 in an IPv4 database`);
    return [{ bits: toBits(bytes), prefix }];
  }
  if (ipVersion === 4) return [{ bits: toBits(bytes), prefix }];
  // ::a.b.c.d/96 is where readers look IPv4 up; ::ffff:a.b.c.d (IPv4-mapped) is aliased there in
  // MaxMind's own files: written twice here, which is the same to a reader.
  return [
    { bits: [...new Array(96).fill(0), ...toBits(bytes)], prefix: prefix + 96 },
    { bits: [...new Array(80).fill(0), ...new Array(16).fill(1), ...toBits(bytes)], prefix: prefix + 96 },
  ];
}

// ---- data section encoding -------------------------------------------------------------------

function control(type: number, size: number): Buffer {
  const out: number[] = [type <= 7 ? type << 5 : 0];
  if (type > 7) out.push(type - 7);
  if (size < 29) out[0]! |= size;
  else if (size < 285) {
    out[0]! |= 29;
    out.push(size - 29);
  } else if (size < 65_821) {
    out[0]! |= 30;
    out.push((size - 285) >> 8, (size - 285) & 0xff);
  } else {
    out[0]! |= 31;
    const s = size - 65_821;
    out.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff);
  }
  return Buffer.from(out);
}

function uintBytes(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0) {
    out.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  return Buffer.from(out);
}

function encode(v: unknown): Buffer {
  if (v instanceof Typed) {
    const b = uintBytes(v.value);
    return Buffer.concat([control(v.type === 'uint16' ? 5 : 9, b.length), b]);
  }
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) {
      const b = uintBytes(v);
      return Buffer.concat([control(6, b.length), b]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
  }
  throw new Error(`cannot encode ${String(v)}`);
}

function writeRecord(buf: Buffer, at: number, recordSize: 24 | 28 | 32, left: number, right: number): void {
  if (recordSize === 24) {
    buf.writeUIntBE(left, at, 3);
    buf.writeUIntBE(right, at + 3, 3);
  } else if (recordSize === 28) {
    buf.writeUIntBE(left & 0xffffff, at, 3);
    buf[at + 3] = (((left >>> 24) & 0x0f) << 4) | ((right >>> 24) & 0x0f);
    buf.writeUIntBE(right & 0xffffff, at + 4, 3);
  } else {
    buf.writeUInt32BE(left, at);
    buf.writeUInt32BE(right, at + 4);
  }
}

/** A complete `.mmdb` file holding `networks` (more specific networks win over the ones they sit in). */
export function writeMmdb(networks: readonly MmdbNetwork[], opts: MmdbOptions = {}): Buffer {
  const ipVersion = opts.ipVersion ?? 6;
  const recordSize = opts.recordSize ?? 28;
  // One copy of each distinct record in the data section, as MaxMind's writers do.
  const dataIndex = new Map<string, number>();
  const records: Record<string, unknown>[] = [];
  const entries = networks.flatMap((n) => {
    const key = JSON.stringify(n.record);
    let idx = dataIndex.get(key);
    if (idx === undefined) {
      idx = records.length;
      records.push(n.record);
      dataIndex.set(key, idx);
    }
    return bitsOf(n.cidr, ipVersion).map((b) => ({ ...b, idx }));
  });
  entries.sort((a, b) => a.prefix - b.prefix);
  const root: Node = { l: null, r: null };
  for (const e of entries) {
    let node = root;
    for (let i = 0; i < e.prefix - 1; i++) {
      const side = e.bits[i] === 0 ? 'l' : 'r';
      let next = node[side];
      if (next === null || typeof next === 'number') {
        // A less specific network's data is pushed down to both halves.
        next = { l: next, r: next };
        node[side] = next;
      }
      node = next;
    }
    node[e.bits[e.prefix - 1] === 0 ? 'l' : 'r'] = e.idx;
  }

  const nodes: Node[] = [];
  const number = new Map<Node, number>();
  for (let queue: Node[] = [root]; queue.length > 0; ) {
    const n = queue.shift()!;
    number.set(n, nodes.length);
    nodes.push(n);
    for (const c of [n.l, n.r]) if (c !== null && typeof c === 'object') queue.push(c);
  }
  const data = records.map(encode);
  const offsets: number[] = [];
  let off = 0;
  for (const d of data) {
    offsets.push(off);
    off += d.length;
  }
  const nodeCount = nodes.length;
  const value = (c: Node | number | null) => (c === null ? nodeCount : typeof c === 'number' ? nodeCount + 16 + offsets[c]! : number.get(c)!);
  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  nodes.forEach((n, i) => writeRecord(tree, i * nodeBytes, recordSize, value(n.l), value(n.r)));

  const metadata = encode({
    binary_format_major_version: new Typed('uint16', 2),
    binary_format_minor_version: new Typed('uint16', 0),
    build_epoch: new Typed('uint64', opts.buildEpoch ?? 1_767_225_600),
    database_type: opts.databaseType ?? 'GeoLite2-City',
    description: { en: 'fraudwatch test database' },
    ip_version: new Typed('uint16', ipVersion),
    languages: ['en', 'de'],
    node_count: nodeCount,
    record_size: new Typed('uint16', recordSize),
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}
