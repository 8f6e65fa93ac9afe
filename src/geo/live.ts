import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { bindGeo, type Rules } from '../config/rules.js';
import { ERRORS } from '../errors.js';
import { CachedLocator, describeGeo, GeoipLiteProvider, type GeoDataInfo, type GeoLocator, type GeoProvider } from './locator.js';
import { fileIdentity, openMmdb } from './mmdb.js';
import { geoDataOf, sameSetting, type GeoSetting } from './setting.js';

/** A burst of writes (a copy in progress, a rename after a delete) is one change. */
const DEBOUNCE_MS = 500;

/**
 * A locator that follows its database file, for the daemons. Weekly updates replace the file,
 * usually by renaming a new one over it: the new file is read asynchronously (the event loop
 * keeps scoring meanwhile), opened and checked, and only then swapped in, which clears the
 * cache. A file that cannot be opened leaves the database in use in place, logged with
 * FW_GEO_DB; the next change to the file is tried again.
 *
 * Replay and backtest never follow: they score a log with the database opened at their start,
 * so two runs give the same bytes.
 */
export class LiveLocator extends CachedLocator {
  private target: GeoSetting;
  /** The file identity (device, inode, size, mtime) last opened or last rejected: no second try of the same bytes. */
  private seen: string | undefined;
  private watching = false;
  private watcher: FSWatcher | undefined;
  private watchedDir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  private constructor(
    provider: GeoProvider,
    target: GeoSetting,
    seen: string | undefined,
    private readonly log: Logger,
    /** --geo-db / FRAUDWATCH_GEO_DB: the rules' own geo setting is not followed. */
    private readonly fixed: boolean,
    private readonly debounceMs: number,
  ) {
    super(provider);
    this.target = target;
    this.seen = seen;
  }

  /** Opens the database `setting` names (FW_GEO_DB when it cannot). Call `watch` to follow its file. */
  static async open(setting: GeoSetting | undefined, log: Logger, opts: { fixed?: boolean; debounceMs?: number } = {}): Promise<LiveLocator> {
    const target: GeoSetting = setting ?? { provider: 'geoip-lite' };
    let seen: string | undefined;
    let provider: GeoProvider;
    if (target.provider === 'mmdb') {
      seen = await fileIdentity(target.path).catch(() => undefined);
      provider = await openMmdb(target.path);
    } else {
      provider = new GeoipLiteProvider();
    }
    return new LiveLocator(provider, target, seen, log, opts.fixed ?? false, opts.debounceMs ?? DEBOUNCE_MS);
  }

  /**
   * Watches the database's directory, not the file: a rename over the file ends a watch on the
   * old inode. Any event in the directory leads to a check of the file's identity, so a
   * Kubernetes-style symlink swap (whose event names another entry) is seen too.
   */
  watch(): void {
    this.watching = true;
    if (this.target.provider !== 'mmdb') return this.unwatch();
    const dir = dirname(this.target.path);
    if (this.watcher !== undefined && this.watchedDir === dir) return;
    this.unwatch();
    try {
      this.watcher = watch(dir, () => this.schedule('file change'));
      this.watcher.on('error', (err) => this.log.warn({ err, dir }, 'stopped watching the geolocation database; SIGHUP still checks it'));
      // Never what keeps the process alive: the daemon's consumer and HTTP server do that.
      this.watcher.unref();
      this.watchedDir = dir;
    } catch (err) {
      this.log.warn({ err, dir }, 'cannot watch the geolocation database; SIGHUP still checks it');
    }
  }

  /**
   * After a rules reload: follows the rules' geo setting (unless --geo-db fixed the database),
   * opening another database when it changed, and checks the file in any case (SIGHUP is a
   * way to force the check where file events do not arrive, as on some network filesystems).
   */
  follow(setting: GeoSetting | undefined, trigger: string): Promise<void> {
    const next: GeoSetting = setting ?? { provider: 'geoip-lite' };
    if (!this.fixed && !sameSetting(next, this.target)) {
      this.log.info({ trigger, from: this.target, to: next }, 'the rules name another geolocation database');
      this.target = next;
      this.seen = undefined;
      if (this.watching) this.watch();
    }
    return this.check(trigger);
  }

  /** Checks the file now: swaps in a changed one that opens. Calls never overlap. */
  check(trigger: string): Promise<void> {
    this.running = this.running.then(() => this.load(trigger));
    return this.running;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watching = false;
    this.unwatch();
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedDir = undefined;
  }

  private schedule(trigger: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(trigger), this.debounceMs);
    this.timer.unref();
  }

  private async load(trigger: string): Promise<void> {
    const target = this.target;
    const inUse = this.info;
    if (target.provider === 'geoip-lite') {
      if (inUse.provider === 'geoip-lite') return;
      // Synchronous: geoip-lite loads its data on require. Only a rules change gets here.
      this.swapLogged(new GeoipLiteProvider(), inUse, trigger);
      return;
    }
    let id: string;
    try {
      id = await fileIdentity(target.path);
    } catch (err) {
      // Between a delete and the rename of the new file, or gone: said once per state.
      if (this.seen !== 'missing') this.reject(target.path, err, inUse, trigger);
      this.seen = 'missing';
      return;
    }
    if (id === this.seen) return;
    try {
      const provider = await openMmdb(target.path);
      if (this.target !== target) return; // the rules moved on while this file was read
      this.seen = id;
      this.swapLogged(provider, inUse, trigger);
    } catch (err) {
      this.seen = id;
      this.reject(target.path, err, inUse, trigger);
    }
  }

  private swapLogged(provider: GeoProvider, previous: GeoDataInfo, trigger: string): void {
    // Logged first: the swap's listeners (the daemon's rules) log what follows from it.
    this.log.info({ trigger, provider: provider.info.provider, build: provider.info.build, databaseType: provider.info.databaseType, path: provider.info.path, previous: describeGeo(previous) }, 'geolocation database reloaded');
    this.swap(provider);
  }

  private reject(path: string, err: unknown, inUse: GeoDataInfo, trigger: string): void {
    // openMmdb's FW_GEO_DB message repeats the code's text and the path, both in the line already.
    const reason = (err as Error).message.replace(`${ERRORS.FW_GEO_DB.message}: ${path}: `, '');
    this.log.error({ code: 'FW_GEO_DB', trigger, path, reason, inUse: describeGeo(inUse) }, 'geolocation database rejected; the one in use stays');
  }
}

/** The metrics a daemon shows about its geolocation data. */
export interface GeoMetrics {
  readonly rulesInfo: Gauge<'version'>;
  setGeo(info: GeoDataInfo): void;
}

/**
 * Keeps a daemon's rules bound to the geolocation data in use: rulesVersion names the data an
 * alert was computed with, so a database swap is a rules change (a new version, state kept).
 * The daemon keeps the rules as parsed here, for a rules reload to compare the file with.
 */
export class GeoBinding {
  private current: Rules;

  constructor(
    parsed: Rules,
    private readonly locator: GeoLocator,
    private readonly log: Logger,
  ) {
    this.current = parsed;
  }

  /**
   * What a fresh parse of the rules in use gives now, their database's metadata read again: what
   * reloadRulesFile compares a new parse with, so unchanged rules over a swapped database read as
   * unchanged (and, with --geo-db, rules without a geo setting are compared as parsed).
   */
  get parsed(): Rules {
    try {
      return bindGeo(this.current, geoDataOf(this.current.effective.geo));
    } catch {
      return this.current; // the file went away: any valid new parse differs anyway
    }
  }

  /** The rules as the engine must use them now: bound to the data the locator answers from. */
  get rules(): Rules {
    return bindGeo(this.current, this.locator.info);
  }

  /**
   * Shows the data in the metrics and calls `onSwap` after every database swap; the daemon
   * applies `rules` there under its own lock (so a reload queued before it is not undone).
   */
  attach(metrics: GeoMetrics, onSwap: () => void): void {
    if (this.locator.info !== undefined) metrics.setGeo(this.locator.info);
    if (!(this.locator instanceof CachedLocator)) return;
    this.locator.onSwap((info) => {
      metrics.setGeo(info);
      const rules = this.rules;
      showRules(metrics, rules);
      this.log.info({ rulesVersion: rules.version, geo: describeGeo(info) }, 'rules version follows the geolocation data');
      onSwap();
    });
  }

  /**
   * After a rules reload, valid (`parsed`) or not (undefined: unchanged or rejected): the new
   * rules bound, their geo setting followed when it changed. Either way the database file is
   * checked, so SIGHUP also picks up a replaced file where no file event arrived.
   */
  reloaded(parsed: Rules | undefined, metrics: GeoMetrics, trigger: string): Rules | undefined {
    if (parsed !== undefined) this.current = parsed;
    if (this.locator instanceof LiveLocator) void this.locator.follow(this.current.effective.geo, trigger);
    if (parsed === undefined) return undefined;
    const rules = this.rules;
    // reloadRulesFile showed the version as parsed; the engine runs the bound one.
    showRules(metrics, rules);
    return rules;
  }
}

function showRules(metrics: GeoMetrics, rules: Rules): void {
  metrics.rulesInfo.reset();
  metrics.rulesInfo.set({ version: rules.version }, 1);
}
