import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { Reader, type CityResponse } from 'maxmind';
import { FraudwatchError } from '../errors.js';
import { UNKNOWN_ACCURACY_KM, type GeoDataInfo, type GeoPoint, type GeoProvider } from './locator.js';

/*
 * MaxMind GeoIP2 / GeoLite2 City databases (`.mmdb`), read with the `maxmind` package. Teams
 * refresh these weekly; geoip-lite's bundled data stays as it was released.
 */

/** The MaxMind DB spec: the metadata section starts with this marker, within the file's last 128 KiB. */
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const METADATA_MAX_BYTES = 128 * 1024;

/**
 * Database types with city-level locations. A Country or ASN database opens fine but places no
 * address on a map (no `location`), which would silently turn every geo detector off.
 */
const CITY_TYPES = /city|enterprise/i;

/**
 * maxmind's own cache, of decoded records by offset. Small: records carry names in eight
 * languages (a few KB each), and CachedLocator already caches per address.
 */
const RECORD_CACHE = 1000;

export interface MmdbMetadata {
  readonly databaseType: string;
  /** build_epoch, as a Date. */
  readonly buildEpoch: Date;
  readonly ipVersion: number;
  readonly recordSize: number;
  readonly nodeCount: number;
}

/** `2026-09-18T04:49:38Z`: the build, to the second (two builds of one day are different data). */
export function buildText(buildEpoch: Date): string {
  return buildEpoch.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Reads only the metadata at the end of an mmdb, synchronously: what rules validation needs (is
 * it a MaxMind DB, a City one, built when) without reading 60 MB on the event loop. The full
 * file is read, asynchronously, by `openMmdb`.
 */
export function readMmdbMetadata(path: string): MmdbMetadata {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(2);
  let buf: Buffer;
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
    const len = Math.min(size, METADATA_MAX_BYTES);
    buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  const at = buf.lastIndexOf(METADATA_MARKER);
  if (at < 0) {
    // MaxMind ships .mmdb.gz and .tar.gz archives: say so rather than "not a database".
    if (head[0] === 0x1f && head[1] === 0x8b) throw new Error('gzip-compressed: extract the .mmdb first');
    throw new Error('not a MaxMind DB file (no metadata section: truncated, or another format)');
  }
  const meta = decode(buf, at + METADATA_MARKER.length).value as Record<string, unknown>;
  if (meta === null || typeof meta !== 'object') throw new Error('unreadable metadata section');
  const num = (k: string) => (typeof meta[k] === 'number' ? (meta[k] as number) : Number.NaN);
  if (num('binary_format_major_version') !== 2) throw new Error(`unsupported MaxMind DB format version ${String(meta.binary_format_major_version)}`);
  const recordSize = num('record_size');
  const nodeCount = num('node_count');
  if (![24, 28, 32].includes(recordSize) || !(nodeCount > 0)) throw new Error('unreadable metadata section (record size or node count)');
  if ((nodeCount * recordSize) / 4 + 16 > size) throw new Error('truncated: the search tree is larger than the file');
  const epoch = num('build_epoch');
  if (!Number.isFinite(epoch)) throw new Error('metadata without build_epoch');
  return { databaseType: String(meta.database_type ?? ''), buildEpoch: new Date(epoch * 1000), ipVersion: num('ip_version'), recordSize, nodeCount };
}

/** The same checks rules validation makes, as one message, or undefined when the file will do. */
export function mmdbProblem(path: string): string | undefined {
  try {
    const m = readMmdbMetadata(path);
    if (!CITY_TYPES.test(m.databaseType)) return `${path}: a ${m.databaseType || 'untyped'} database, not a City one (no locations to place addresses)`;
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // "ENOENT: no such file or directory, open '/x.mmdb'" names the path again.
    return e.code !== undefined ? `cannot read ${path}: ${e.message.replace(/, \w+ '.*'$/, '')}` : `${path}: ${e.message}`;
  }
}

export function mmdbInfo(path: string, meta: Pick<MmdbMetadata, 'databaseType' | 'buildEpoch'>): GeoDataInfo {
  return Object.freeze({ provider: 'mmdb', build: buildText(meta.buildEpoch), databaseType: meta.databaseType, path });
}

/** What identifies the file on disk: a rename over it, a copy onto it or a touch changes it. */
export async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** A City database opened with maxmind: the whole file in memory, lookups are tree walks. */
export class MmdbProvider implements GeoProvider {
  readonly info: GeoDataInfo;

  constructor(
    private readonly reader: Reader<CityResponse>,
    path: string,
  ) {
    this.info = mmdbInfo(path, reader.metadata);
  }

  locate(ip: string): GeoPoint | null {
    let r: CityResponse | null;
    try {
      r = this.reader.get(ip);
    } catch {
      // An IPv6 address in an IPv4-only database, or a damaged record: not placed, as an
      // address missing from the database is. The engine never stops on one lookup.
      return null;
    }
    return r === null ? null : cityPoint(r);
  }
}

/**
 * A GeoIP2 City record as a GeoPoint, field for field as geoip-lite builds its own from the same
 * GeoLite2 data: ISO country code, first subdivision's ISO code, English city name, coordinates,
 * accuracy radius in km. No city, or no radius, leaves a country-level point (never a fix).
 */
export function cityPoint(r: CityResponse): GeoPoint | null {
  const country = r.country?.iso_code;
  const loc = r.location;
  if (!country || loc === undefined || typeof loc.latitude !== 'number' || typeof loc.longitude !== 'number') return null;
  const names = r.city?.names as Record<string, string> | undefined;
  const city = names === undefined ? '' : (names.en ?? Object.values(names)[0] ?? '');
  const radius = loc.accuracy_radius;
  return {
    country,
    region: r.subdivisions?.[0]?.iso_code ?? '',
    city,
    lat: loc.latitude,
    lon: loc.longitude,
    accuracyKm: typeof radius === 'number' && radius > 0 ? radius : UNKNOWN_ACCURACY_KM,
  };
}

/**
 * Opens a City database: reads the file asynchronously (the event loop keeps serving while
 * 60 MB come in), checks it, and returns a provider ready to be swapped in. Throws FW_GEO_DB
 * naming the file and the reason.
 */
export async function openMmdb(path: string): Promise<MmdbProvider> {
  let reader: Reader<CityResponse>;
  try {
    // What maxmind.open does, with clearer messages for the usual mistakes: the file is read
    // asynchronously and whole, then the Reader parses the metadata and walks the tree in place.
    const db = await readFile(path);
    if (db[0] === 0x1f && db[1] === 0x8b) throw new Error('gzip-compressed: extract the .mmdb first');
    const at = db.lastIndexOf(METADATA_MARKER);
    if (at < 0 || db.length - at > METADATA_MAX_BYTES) throw new Error('not a MaxMind DB file (no metadata section: truncated, or another format)');
    reader = new Reader<CityResponse>(db, { cache: new LRUCache<string | number, object>({ max: RECORD_CACHE }) });
    const type = reader.metadata.databaseType;
    if (!CITY_TYPES.test(type)) throw new Error(`a ${type || 'untyped'} database, not a City one (no locations to place addresses)`);
    if (reader.metadata.searchTreeSize + 16 > db.length) throw new Error('truncated: the search tree is larger than the file');
    // A damaged search tree or data section fails here rather than on the first event.
    reader.get('1.1.1.1');
    if (reader.metadata.ipVersion === 6) reader.get('2001:4860:4860::8888');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code !== undefined ? e.message.replace(/, \w+ '.*'$/, '') : e.message;
    throw new FraudwatchError('FW_GEO_DB', `${path}: ${why}`, { path }, { cause: err });
  }
  return new MmdbProvider(reader, path);
}

// ---- the metadata decoder -------------------------------------------------------------------

/**
 * Decodes one value of the MaxMind DB data format (spec §"Output Data Section"): enough for the
 * metadata map, which holds maps, strings, unsigned integers, arrays and booleans and never
 * pointers. maxmind exposes metadata only on a fully loaded database, hence this.
 */
function decode(buf: Buffer, at: number): { value: unknown; next: number } {
  const need = (n: number) => {
    if (at + n > buf.length) throw new Error('unreadable metadata section (truncated)');
  };
  need(1);
  const ctrl = buf[at++]!;
  let type = ctrl >> 5;
  if (type === 0) {
    need(1);
    type = 7 + buf[at++]!;
  }
  if (type === 1) throw new Error('unreadable metadata section (pointer)');
  let size = ctrl & 0x1f;
  if (size === 29) {
    need(1);
    size = 29 + buf[at]!;
    at += 1;
  } else if (size === 30) {
    need(2);
    size = 285 + buf.readUInt16BE(at);
    at += 2;
  } else if (size === 31) {
    need(3);
    size = 65_821 + buf.readUIntBE(at, 3);
    at += 3;
  }
  switch (type) {
    case 2: // UTF-8 string
      need(size);
      return { value: buf.toString('utf8', at, at + size), next: at + size };
    case 3: // double
      need(8);
      return { value: buf.readDoubleBE(at), next: at + 8 };
    case 4: // bytes
      need(size);
      return { value: buf.subarray(at, at + size), next: at + size };
    case 5: // uint16
    case 6: // uint32
    case 9: // uint64
    case 10: {
      // uint128
      need(size);
      let n = 0;
      for (let i = 0; i < size; i++) n = n * 256 + buf[at + i]!;
      return { value: n, next: at + size };
    }
    case 7: {
      // map: `size` key/value pairs
      const out: Record<string, unknown> = {};
      for (let i = 0; i < size; i++) {
        const k = decode(buf, at);
        const v = decode(buf, k.next);
        out[String(k.value)] = v.value;
        at = v.next;
      }
      return { value: out, next: at };
    }
    case 8: {
      // int32
      need(size);
      let n = 0;
      for (let i = 0; i < size; i++) n = n * 256 + buf[at + i]!;
      if (size === 4 && n >= 2 ** 31) n -= 2 ** 32;
      return { value: n, next: at + size };
    }
    case 11: {
      const out: unknown[] = [];
      for (let i = 0; i < size; i++) {
        const v = decode(buf, at);
        out.push(v.value);
        at = v.next;
      }
      return { value: out, next: at };
    }
    case 14: // boolean: the value is the size
      return { value: size !== 0, next: at };
    case 15: // float
      need(4);
      return { value: buf.readFloatBE(at), next: at + 4 };
    default:
      throw new Error(`unreadable metadata section (type ${type})`);
  }
}
