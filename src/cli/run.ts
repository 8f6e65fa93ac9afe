import { pino } from 'pino';
import { bindGeo } from '../config/rules.js';
import { resolveDaemonConfig, type RunFlags } from '../daemon/config.js';
import { Daemon } from '../daemon/daemon.js';
import { LiveLocator } from '../geo/live.js';
import { StreamsRunner } from '../streams/runner.js';
import { rulesFromFlag } from './rulesFlag.js';

/** `fraudwatch run`: the daemon. Exits 0 after a graceful shutdown on SIGTERM or SIGINT. */
export async function runCommand(flags: RunFlags): Promise<void> {
  // Configuration and rules are checked before anything connects: a typo fails fast and clearly.
  const config = resolveDaemonConfig(flags);
  const rules = rulesFromFlag(config.rulesFile);
  const log = pino({
    level: config.logLevel,
    base: { service: 'fraudwatch', clientId: config.clientId },
    redact: { paths: ['*.password', '*.sasl.password', 'config.sasl.password', '*.key'], censor: '[redacted]' },
  });
  // --geo-db / FRAUDWATCH_GEO_DB wins over the rules' geo setting; the file is followed for updates.
  if (config.geoDb !== undefined && rules.effective.geo !== undefined) log.warn({ geoDb: config.geoDb, rules: rules.effective.geo }, "FRAUDWATCH_GEO_DB overrides the rules' geo setting");
  const locator = await LiveLocator.open(config.geoDb !== undefined ? { provider: 'mmdb', path: config.geoDb } : rules.effective.geo, log, { fixed: config.geoDb !== undefined });
  locator.watch();
  // --processing exactly-once: transactions, changelog-backed state and scale-out (src/streams).
  const daemon = config.processing === 'exactly_once' ? new StreamsRunner(config, rules, locator, log) : new Daemon(config, rules, locator, log);

  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    daemon.stop(signal).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void daemon.reloadRules('SIGHUP'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  // npx, npm exec and shell wrappers do not pass SIGTERM on: they exit and leave us re-parented,
  // where no supervisor would ever stop us. A parent that went away is a SIGTERM.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown('parent process exited');
  }, 500).unref();

  await daemon.start();
  log.info({ httpPort: daemon.httpPort, rulesVersion: bindGeo(rules, locator.info).version, pid: process.pid }, 'running');
  // Pending until a signal ends the process, or until the service gives up while running
  // (credentials the brokers keep refusing): then it stops, and the error ends the command
  // with exit 2, as the same error does at start-up.
  const err = await daemon.failed;
  exiting = true;
  await daemon.stop(err.code).catch((e: unknown) => log.error({ err: e }, 'shutdown failed'));
  throw err;
}
