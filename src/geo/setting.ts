import { FraudwatchError } from '../errors.js';
import { CachedLocator, GeoipLiteProvider, geoipLiteInfo, type GeoDataInfo, type GeoProvider } from './locator.js';
import { mmdbInfo, openMmdb, readMmdbMetadata } from './mmdb.js';

/** The `geo` setting of a rules file (validated by its schema), or a daemon's --geo-db. Absent: geoip-lite. */
export type GeoSetting = { readonly provider: 'geoip-lite' } | { readonly provider: 'mmdb'; readonly path: string };

export function sameSetting(a: GeoSetting | undefined, b: GeoSetting | undefined): boolean {
  const pa = a?.provider ?? 'geoip-lite';
  const pb = b?.provider ?? 'geoip-lite';
  return pa === pb && (pa === 'geoip-lite' || (a as { path: string }).path === (b as { path: string }).path);
}

/**
 * The data a setting names, from the file's metadata only (cheap and synchronous: rules
 * parsing and `validate` need it, and they must not read a whole database).
 */
export function geoDataOf(setting: GeoSetting | undefined): GeoDataInfo {
  if (setting === undefined || setting.provider === 'geoip-lite') return geoipLiteInfo();
  try {
    return mmdbInfo(setting.path, readMmdbMetadata(setting.path));
  } catch (err) {
    // Checked by the rules schema a moment before: the file went away or changed since.
    throw new FraudwatchError('FW_GEO_DB', `${setting.path}: ${(err as Error).message}`, { path: setting.path }, { cause: err });
  }
}

/** Opens the database a setting names (an mmdb is read asynchronously). Throws FW_GEO_DB. */
export async function openProvider(setting: GeoSetting | undefined): Promise<GeoProvider> {
  return setting === undefined || setting.provider === 'geoip-lite' ? new GeoipLiteProvider() : openMmdb(setting.path);
}

/** A cached locator over the database a setting names, as replay and backtest use it: opened once, never reloaded. */
export async function openLocator(setting: GeoSetting | undefined, cacheSize?: number): Promise<CachedLocator> {
  return new CachedLocator(await openProvider(setting), cacheSize);
}
