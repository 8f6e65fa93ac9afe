import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { LATENESS_BOUNDS, outOfBounds, parseDuration } from '../config/duration.js';
import { FraudwatchError } from '../errors.js';

/**
 * Daemon settings: flags win over environment variables, which win over the settings file
 * (`--config FILE` or FRAUDWATCH_CONFIG), which wins over defaults. Validated once here, all
 * sources by the same schema; a bad value stops the start with a message naming the flag and
 * the variable, or the file's line and column.
 */
export interface DaemonConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly inputTopic: string;
  readonly alertsTopic: string;
  readonly shadowTopic: string;
  readonly dlqTopic: string;
  readonly rulesFile: string | undefined;
  readonly latenessMs: number | undefined;
  /** Wall-clock wait before a partition with no data stops holding back the watermark. */
  readonly idleMs: number;
  readonly fromBeginning: boolean;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly logLevel: string;
  /** Partitions and replication for topics the daemon creates; -1 = the broker's defaults. */
  readonly topicPartitions: number;
  /** At-least-once flow control: events of one partition buffered before it is paused (src/daemon/daemon.ts). */
  readonly partitionBuffer: number;
  readonly topicReplication: number;
  readonly sasl: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string } | undefined;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized: boolean } | undefined;
  /** at_least_once: the default daemon (src/daemon); exactly_once: transactions, changelog-backed state, scale-out (src/streams). */
  readonly processing: 'at_least_once' | 'exactly_once';
  /**
   * exactly_once only: `account` declares the input keyed by accountId (co-partitioned), so the
   * account state of an input partition is processed where its records land, with no account
   * repartition topic (docs/exactly-once.md); `none` assumes nothing of the producers' keys.
   */
  readonly inputKeyed: 'none' | 'account';
  /** Consumer group session timeout: how long a dead instance keeps its partitions. */
  readonly sessionTimeoutMs: number;
  /** Heartbeat interval, a tenth of the session timeout (Kafka's advice is at most a third). */
  readonly heartbeatMs: number;
  /** The settings file read, if any: logged at start so an operator sees where settings came from. */
  readonly settingsFile?: string;
  /** A MaxMind City .mmdb used instead of the rules' geo setting (docs/geolocation.md). */
  readonly geoDb: string | undefined;
}

/** Every setting: flag name (commander camelCase), environment variable, meaning. The docs/daemon.md and docs/settings.md tables are this list. */
export const SETTINGS = {
  brokers: ['FRAUDWATCH_BROKERS', 'comma-separated bootstrap brokers', '127.0.0.1:9092'],
  clientId: ['FRAUDWATCH_CLIENT_ID', 'Kafka client id', 'fraudwatch'],
  groupId: ['FRAUDWATCH_GROUP_ID', 'consumer group id', 'fraudwatch'],
  inputTopic: ['FRAUDWATCH_INPUT_TOPIC', 'topic of events', 'account-events'],
  alertsTopic: ['FRAUDWATCH_ALERTS_TOPIC', 'topic alerts are produced to', 'fraud-alerts'],
  shadowTopic: ['FRAUDWATCH_SHADOW_TOPIC', 'topic of shadow-mode alerts', '<alerts topic>.shadow'],
  dlqTopic: ['FRAUDWATCH_DLQ_TOPIC', 'dead-letter topic for invalid records', '<input topic>.dlq'],
  rules: ['FRAUDWATCH_RULES', 'rules YAML file (watched; SIGHUP reloads too)', 'built-in defaults'],
  lateness: ['FRAUDWATCH_LATENESS', "override the rules' reorder lateness (0s = eager)", 'from the rules (30s)'],
  idleTimeout: ['FRAUDWATCH_IDLE_TIMEOUT', 'wall-clock wait before a silent partition no longer holds back event time', '2s'],
  fromBeginning: ['FRAUDWATCH_FROM_BEGINNING', 'a new consumer group starts at the earliest offset (true) or the latest (false)', 'true'],
  httpPort: ['FRAUDWATCH_HTTP_PORT', 'port of /healthz, /readyz and /metrics (0 picks a free port)', '9464'],
  httpHost: ['FRAUDWATCH_HTTP_HOST', 'address the HTTP port binds to', '127.0.0.1'],
  logLevel: ['FRAUDWATCH_LOG_LEVEL', 'pino log level', 'info'],
  topicPartitions: ['FRAUDWATCH_TOPIC_PARTITIONS', 'partitions of output topics the daemon creates (-1 = broker default)', '-1'],
  partitionBuffer: ['FRAUDWATCH_PARTITION_BUFFER', 'at-least-once: events of one partition waiting in the reorder buffer before it is paused while another partition holds event time back (100..10000000)', '1000'],
  topicReplication: ['FRAUDWATCH_TOPIC_REPLICATION', 'replication factor of output topics the daemon creates (-1 = broker default)', '-1'],
  saslMechanism: ['FRAUDWATCH_SASL_MECHANISM', 'plain, scram-sha-256 or scram-sha-512 (unset = no SASL)', ''],
  saslUsername: ['FRAUDWATCH_SASL_USERNAME', 'SASL user name', ''],
  saslPassword: ['FRAUDWATCH_SASL_PASSWORD', 'SASL password (or a password file); never logged', ''],
  saslPasswordFile: ['FRAUDWATCH_SASL_PASSWORD_FILE', 'file holding the SASL password, e.g. a mounted secret (a password given directly wins)', ''],
  tls: ['FRAUDWATCH_TLS', 'use TLS to the brokers (implied by a CA file)', 'false'],
  tlsCaFile: ['FRAUDWATCH_TLS_CA_FILE', 'PEM CA bundle to trust', ''],
  tlsCertFile: ['FRAUDWATCH_TLS_CERT_FILE', 'PEM client certificate (mutual TLS)', ''],
  tlsKeyFile: ['FRAUDWATCH_TLS_KEY_FILE', 'PEM client key (mutual TLS)', ''],
  tlsRejectUnauthorized: ['FRAUDWATCH_TLS_REJECT_UNAUTHORIZED', 'verify the brokers’ certificates', 'true'],
  processing: ['FRAUDWATCH_PROCESSING', 'at_least_once, or exactly_once (transactions, changelog-backed state, scale-out by consumer group)', 'at_least_once'],
  inputKeyed: ['FRAUDWATCH_INPUT_KEYED', 'exactly_once only: account when producers key the input by accountId (no account repartition topic; a record keyed otherwise is dead-lettered)', 'none'],
  sessionTimeout: ['FRAUDWATCH_SESSION_TIMEOUT', 'consumer session timeout, the time before a dead instance\'s partitions move (6s..5m)', '30s'],
  geoDb: ['FRAUDWATCH_GEO_DB', "MaxMind City .mmdb to locate addresses with, instead of the rules' geo setting (watched for updates)", "the rules' geo (geoip-lite)"],
} as const satisfies Record<string, readonly [string, string, string]>;

export type SettingName = keyof typeof SETTINGS;
/** What `fraudwatch run` parses: one string per setting, and where the settings file is. */
export type RunFlags = Partial<Record<SettingName, string>> & { readonly config?: string };

/**
 * Where the settings file is when `--config` is not given. Not a setting itself: a settings
 * file cannot name another one.
 */
export const CONFIG_ENV = 'FRAUDWATCH_CONFIG';

/**
 * Settings that name files. In a settings file a relative path is taken from the file's own
 * directory, as its author sees it, not from wherever the daemon happens to be started.
 */
const PATH_SETTINGS: ReadonlySet<string> = new Set<SettingName>(['rules', 'saslPasswordFile', 'tlsCaFile', 'tlsCertFile', 'tlsKeyFile']);

/**
 * Not accepted in a settings file: settings files get committed, copied and pasted into
 * tickets. The password comes from a file (saslPasswordFile, e.g. a mounted secret) or the
 * environment.
 */
const SECRET_SETTINGS: ReadonlySet<string> = new Set<SettingName>(['saslPassword']);

/** One value from the settings file, as a string like a flag's, with where it was written. */
interface FileValue {
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

/** A problem in the settings file, located, never quoting a value. */
interface FileProblem {
  readonly line: number;
  readonly col: number;
  /** `setting: message`, or the message alone for syntax errors. */
  readonly text: string;
}

export interface SettingsFile {
  readonly path: string;
  readonly values: Readonly<Partial<Record<SettingName, FileValue>>>;
  /** What is wrong with the file itself; reported with the values' problems, all at once. */
  readonly problems: readonly FileProblem[];
}

function camel(name: string): string {
  return name.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Reads a settings file: a YAML map whose keys are the settings' names in camelCase, as in the
 * rules file (`inputTopic`, not `input-topic`). Values are strings, numbers or true/false, taken
 * as the text a flag would be, so every source goes through one schema; `brokers` may also be a
 * list. Problems are returned, not thrown, so that resolveDaemonConfig reports them together
 * with the values' own, as `file:line:col CODE setting: message`, never with the value (a
 * settings file may sit next to secrets, and a typo can be a pasted password). Only an
 * unreadable file throws.
 */
export function readSettingsFile(path: string): SettingsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `settings file (--config / ${CONFIG_ENV}) ${path}: ${(err as Error).message}`, { path });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: FileProblem[] = [];
  const problem = (node: unknown, fallback: unknown, message: string) => {
    const offset = (node as Node | null)?.range?.[0] ?? (fallback as Node | null)?.range?.[0] ?? 0;
    problems.push({ ...lines.linePos(offset), text: message });
  };
  const values: Partial<Record<SettingName, FileValue>> = {};
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    // The first line only: the rest quotes the source, which may hold a secret.
    problems.push({ line: pos.line, col: pos.col, text: e.message.split('\n')[0]! });
  }
  const root = doc.contents;
  if (problems.length > 0 || root === null || (isScalar(root) && root.value === null)) {
    // A syntax error, or an empty file (or one of comments only): no settings.
  } else if (!isMap(root)) {
    problem(root, undefined, 'expected a map of settings, e.g. "brokers: kafka:9092"');
  } else {
    for (const pair of root.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) {
        problem(pair.key, pair.value, "a setting's name must be a plain key");
        continue;
      }
      if (!Object.hasOwn(SETTINGS, key)) {
        const hint = Object.hasOwn(SETTINGS, camel(key))
          ? ` (settings files spell names in camelCase, as the rules file does: ${camel(key)})`
          : key === 'config'
            ? ' (a settings file cannot name another one)'
            : '';
        problem(pair.key, undefined, `${key}: unknown setting "${key}"${hint}`);
        continue;
      }
      const name = key as SettingName;
      if (SECRET_SETTINGS.has(name)) {
        problem(pair.key, undefined, `${name}: a password does not belong in a settings file: use saslPasswordFile (e.g. a mounted secret) or ${SETTINGS[name][0]}`);
        continue;
      }
      const v = pair.value;
      // `shadowTopic:` with nothing after it: unset, as an empty environment variable is.
      if (v === null || (isScalar(v) && v.value === null)) continue;
      let value: string;
      if (isScalar(v) && ['string', 'number', 'boolean'].includes(typeof v.value)) value = String(v.value);
      else if (name === 'brokers' && isSeq(v) && v.items.every((i) => isScalar(i) && ['string', 'number'].includes(typeof i.value))) {
        value = v.items.map((i) => String((i as { value: unknown }).value)).join(',');
      } else {
        problem(v, pair.key, `${name}: expected a string, a number or true/false${name === 'brokers' ? ', or a list of host:port' : ''}`);
        continue;
      }
      if (PATH_SETTINGS.has(name) && value !== '' && !isAbsolute(value)) value = resolve(dirname(path), value);
      const pos = lines.linePos((v as Node).range?.[0] ?? 0);
      values[name] = Object.freeze({ text: value, line: pos.line, col: pos.col });
    }
  }
  return Object.freeze({ path, values: Object.freeze(values), problems: Object.freeze(problems) });
}

/** An empty flag, variable or file value means "not given here": the next source down decides. */
function given(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const topic = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_" or "-"');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** The rules file's bounds, so the two ways of setting the lateness accept the same values. */
const latenessText = z.string().transform((s, ctx) => {
  try {
    const ms = parseDuration(s);
    const problem = outOfBounds(ms, LATENESS_BOUNDS, s.trim());
    if (problem === undefined) return ms;
    ctx.addIssue({ code: 'custom', message: `${problem} (the same range as lateness in a rules file)` });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
  return z.NEVER;
});

const durationText = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `${what} ${path}: ${(err as Error).message}`);
  }
}

/**
 * Resolves flags + environment + settings file into a frozen DaemonConfig, or throws
 * FW_CLI_BAD_FLAG listing every problem. Each setting comes whole from the first source that
 * gives it; then one schema checks the result, whatever the source.
 */
export function resolveDaemonConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const settingsPath = given(flags.config) ?? given(env[CONFIG_ENV]);
  const file = settingsPath === undefined ? undefined : readSettingsFile(settingsPath);
  const raw: Record<string, string | undefined> = {};
  /** Settings whose value came from the file: their problems are reported at its line and column. */
  const fromFile = new Set<string>();
  for (const [name, [envName]] of Object.entries(SETTINGS)) {
    const flag = given(flags[name as SettingName]);
    const variable = given(env[envName]);
    const written = given(file?.values[name as SettingName]?.text);
    raw[name] = flag ?? variable ?? written;
    if (flag === undefined && variable === undefined && written !== undefined) fromFile.add(name);
  }
  // A password given directly (flag or variable; a settings file cannot hold one) wins over a file.
  if (raw.saslPassword === undefined && raw.saslPasswordFile !== undefined) {
    const at = file?.values.saslPasswordFile;
    const what = fromFile.has('saslPasswordFile') ? `${file!.path}:${at!.line}:${at!.col} saslPasswordFile` : `--sasl-password-file / ${SETTINGS.saslPasswordFile[0]}`;
    raw.saslPassword = readSecretFile(raw.saslPasswordFile, what).trim();
  }

  const schema = z.object({
    brokers: z.string().default('127.0.0.1:9092').transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean)).pipe(
      z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).min(1),
    ),
    clientId: z.string().min(1).default('fraudwatch'),
    groupId: z.string().min(1).default('fraudwatch'),
    inputTopic: topic.default('account-events'),
    alertsTopic: topic.default('fraud-alerts'),
    shadowTopic: topic.optional(),
    dlqTopic: topic.optional(),
    rules: z.string().optional(),
    lateness: latenessText.optional(),
    idleTimeout: durationText.default(2000),
    fromBeginning: bool.default(true),
    httpPort: int(0, 65535).default(9464),
    httpHost: z.string().min(1).default('127.0.0.1'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    topicPartitions: int(-1, 10_000).refine((n) => n !== 0, 'not 0').default(-1),
    partitionBuffer: int(100, 10_000_000).default(1_000),
    topicReplication: int(-1, 100).refine((n) => n !== 0, 'not 0').default(-1),
    saslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    saslUsername: z.string().optional(),
    saslPassword: z.string().optional(),
    saslPasswordFile: z.string().optional(),
    tls: bool.default(false),
    tlsCaFile: z.string().optional(),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
    tlsRejectUnauthorized: bool.default(true),
    processing: z
      .enum(['at_least_once', 'exactly_once', 'at-least-once', 'exactly-once'])
      .transform((v) => v.replace(/-/g, '_') as 'at_least_once' | 'exactly_once')
      .default('at_least_once'),
    inputKeyed: z.enum(['none', 'account']).default('none'),
    // The broker's group.min.session.timeout.ms is 6 s by default.
    sessionTimeout: durationText.pipe(z.number().min(6_000).max(300_000)).default(30_000),
    geoDb: z.string().optional(),
  });
  const parsed = schema.safeParse(raw);
  const byFlag: string[] = [];
  const inFile: FileProblem[] = [...(file?.problems ?? [])];
  for (const i of parsed.error?.issues ?? []) {
    const name = String(i.path[0]) as SettingName;
    // Never echo the value back: it may be a secret.
    if (fromFile.has(name)) inFile.push({ ...file!.values[name]!, text: `${name}: ${i.message}` });
    else byFlag.push(`--${kebab(name)} / ${SETTINGS[name]?.[0] ?? ''}: ${i.message}`);
  }
  if (byFlag.length > 0 || inFile.length > 0) {
    const parts = byFlag.length > 0 ? [byFlag.join('; ')] : [];
    if (inFile.length > 0) {
      const located = inFile.sort((a, b) => a.line - b.line || a.col - b.col).map((p) => `${file!.path}:${p.line}:${p.col} FW_CLI_BAD_FLAG ${p.text}`);
      parts.push(`${inFile.length} problem(s) in the settings file ${file!.path}:\n${located.join('\n')}`);
    }
    throw new FraudwatchError('FW_CLI_BAD_FLAG', parts.join('\n'), file ? { settingsFile: file.path } : {});
  }
  if (!parsed.success) throw new FraudwatchError('FW_INTERNAL', 'settings rejected without an issue');
  const c = parsed.data;
  if (c.saslMechanism && (!c.saslUsername || !c.saslPassword)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `--sasl-mechanism ${c.saslMechanism} needs FRAUDWATCH_SASL_USERNAME and FRAUDWATCH_SASL_PASSWORD (or FRAUDWATCH_SASL_PASSWORD_FILE); in a settings file saslUsername and saslPasswordFile`);
  }
  if (!c.saslMechanism && (c.saslUsername || c.saslPassword)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', 'a SASL user name or password was given without FRAUDWATCH_SASL_MECHANISM (saslMechanism in a settings file)');
  }
  if (Boolean(c.tlsCertFile) !== Boolean(c.tlsKeyFile)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', 'FRAUDWATCH_TLS_CERT_FILE and FRAUDWATCH_TLS_KEY_FILE (tlsCertFile and tlsKeyFile in a settings file) go together');
  }
  if (c.inputKeyed !== 'none' && c.processing !== 'exactly_once') {
    // The at-least-once daemon has no repartition topics to skip: the setting would mean nothing.
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `FRAUDWATCH_INPUT_KEYED=${c.inputKeyed} (inputKeyed) needs FRAUDWATCH_PROCESSING=exactly_once`);
  }
  const useTls = c.tls || Boolean(c.tlsCaFile) || Boolean(c.tlsCertFile);
  return Object.freeze({
    brokers: Object.freeze(c.brokers),
    clientId: c.clientId,
    groupId: c.groupId,
    inputTopic: c.inputTopic,
    alertsTopic: c.alertsTopic,
    shadowTopic: c.shadowTopic ?? `${c.alertsTopic}.shadow`,
    dlqTopic: c.dlqTopic ?? `${c.inputTopic}.dlq`,
    rulesFile: c.rules,
    latenessMs: c.lateness,
    idleMs: c.idleTimeout,
    fromBeginning: c.fromBeginning,
    httpPort: c.httpPort,
    httpHost: c.httpHost,
    logLevel: c.logLevel,
    topicPartitions: c.topicPartitions,
    partitionBuffer: c.partitionBuffer,
    topicReplication: c.topicReplication,
    sasl: c.saslMechanism ? Object.freeze({ mechanism: c.saslMechanism, username: c.saslUsername!, password: c.saslPassword! }) : undefined,
    tls: useTls
      ? Object.freeze({
          ca: c.tlsCaFile ? readSecretFile(c.tlsCaFile, 'FRAUDWATCH_TLS_CA_FILE') : undefined,
          cert: c.tlsCertFile ? readSecretFile(c.tlsCertFile, 'FRAUDWATCH_TLS_CERT_FILE') : undefined,
          key: c.tlsKeyFile ? readSecretFile(c.tlsKeyFile, 'FRAUDWATCH_TLS_KEY_FILE') : undefined,
          rejectUnauthorized: c.tlsRejectUnauthorized,
        })
      : undefined,
    processing: c.processing,
    inputKeyed: c.inputKeyed,
    sessionTimeoutMs: c.sessionTimeout,
    heartbeatMs: Math.max(500, Math.floor(c.sessionTimeout / 10)),
    settingsFile: file?.path,
    geoDb: c.geoDb,
  });
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
}

/** The config as it may be logged: secrets replaced. */
export function describeConfig(c: DaemonConfig): Record<string, unknown> {
  return {
    ...c,
    sasl: c.sasl ? { mechanism: c.sasl.mechanism, username: c.sasl.username, password: '[redacted]' } : undefined,
    tls: c.tls ? { ca: Boolean(c.tls.ca), cert: Boolean(c.tls.cert), key: c.tls.key ? '[redacted]' : undefined, rejectUnauthorized: c.tls.rejectUnauthorized } : undefined,
  };
}
