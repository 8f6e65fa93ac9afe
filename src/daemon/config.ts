import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LATENESS_BOUNDS, outOfBounds, parseDuration } from '../config/duration.js';
import { FraudwatchError } from '../errors.js';

/**
 * Daemon settings: flags win over environment variables, which win over defaults. Validated
 * once here; a bad value stops the start with a message naming the flag and the variable.
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
  readonly topicReplication: number;
  readonly sasl: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string } | undefined;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized: boolean } | undefined;
  /** at_least_once: the default daemon (src/daemon); exactly_once: transactions, changelog-backed state, scale-out (src/streams). */
  readonly processing: 'at_least_once' | 'exactly_once';
  /** Consumer group session timeout: how long a dead instance keeps its partitions. */
  readonly sessionTimeoutMs: number;
  /** Heartbeat interval, a tenth of the session timeout (Kafka's advice is at most a third). */
  readonly heartbeatMs: number;
  /** A MaxMind City .mmdb used instead of the rules' geo setting (docs/geolocation.md). */
  readonly geoDb: string | undefined;
}

/** Every setting: flag name (commander camelCase), environment variable, meaning. The README table is this list. */
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
  topicReplication: ['FRAUDWATCH_TOPIC_REPLICATION', 'replication factor of output topics the daemon creates (-1 = broker default)', '-1'],
  saslMechanism: ['FRAUDWATCH_SASL_MECHANISM', 'plain, scram-sha-256 or scram-sha-512 (unset = no SASL)', ''],
  saslUsername: ['FRAUDWATCH_SASL_USERNAME', 'SASL user name', ''],
  saslPassword: ['FRAUDWATCH_SASL_PASSWORD', 'SASL password (or FRAUDWATCH_SASL_PASSWORD_FILE); never logged', ''],
  tls: ['FRAUDWATCH_TLS', 'use TLS to the brokers (implied by a CA file)', 'false'],
  tlsCaFile: ['FRAUDWATCH_TLS_CA_FILE', 'PEM CA bundle to trust', ''],
  tlsCertFile: ['FRAUDWATCH_TLS_CERT_FILE', 'PEM client certificate (mutual TLS)', ''],
  tlsKeyFile: ['FRAUDWATCH_TLS_KEY_FILE', 'PEM client key (mutual TLS)', ''],
  tlsRejectUnauthorized: ['FRAUDWATCH_TLS_REJECT_UNAUTHORIZED', 'verify the brokers’ certificates', 'true'],
  processing: ['FRAUDWATCH_PROCESSING', 'at_least_once, or exactly_once (transactions, changelog-backed state, scale-out by consumer group)', 'at_least_once'],
  sessionTimeout: ['FRAUDWATCH_SESSION_TIMEOUT', 'consumer session timeout, the time before a dead instance\'s partitions move (6s..5m)', '30s'],
  geoDb: ['FRAUDWATCH_GEO_DB', "MaxMind City .mmdb to locate addresses with, instead of the rules' geo setting (watched for updates)", "the rules' geo (geoip-lite)"],
} as const satisfies Record<string, readonly [string, string, string]>;

export type SettingName = keyof typeof SETTINGS;
export type RunFlags = Partial<Record<SettingName, string>>;

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

/** Resolves flags + environment into a frozen DaemonConfig, or throws FW_CLI_BAD_FLAG listing every problem. */
export function resolveDaemonConfig(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const raw: Record<string, string | undefined> = {};
  for (const [name, [envName]] of Object.entries(SETTINGS)) {
    const v = flags[name as SettingName] ?? env[envName];
    raw[name] = v === undefined || v === '' ? undefined : v;
  }
  if (raw.saslPassword === undefined && env.FRAUDWATCH_SASL_PASSWORD_FILE) {
    raw.saslPassword = readSecretFile(env.FRAUDWATCH_SASL_PASSWORD_FILE, 'FRAUDWATCH_SASL_PASSWORD_FILE').trim();
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
    topicReplication: int(-1, 100).refine((n) => n !== 0, 'not 0').default(-1),
    saslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    saslUsername: z.string().optional(),
    saslPassword: z.string().optional(),
    tls: bool.default(false),
    tlsCaFile: z.string().optional(),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
    tlsRejectUnauthorized: bool.default(true),
    processing: z
      .enum(['at_least_once', 'exactly_once', 'at-least-once', 'exactly-once'])
      .transform((v) => v.replace(/-/g, '_') as 'at_least_once' | 'exactly_once')
      .default('at_least_once'),
    // The broker's group.min.session.timeout.ms is 6 s by default.
    sessionTimeout: durationText.pipe(z.number().min(6_000).max(300_000)).default(30_000),
    geoDb: z.string().optional(),
  });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0]) as SettingName;
      const envName = SETTINGS[name]?.[0] ?? '';
      // Never echo the value back: it may be a secret.
      return `--${kebab(name)} / ${envName}: ${i.message}`;
    });
    throw new FraudwatchError('FW_CLI_BAD_FLAG', lines.join('; '));
  }
  const c = parsed.data;
  if (c.saslMechanism && (!c.saslUsername || !c.saslPassword)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', `--sasl-mechanism ${c.saslMechanism} needs FRAUDWATCH_SASL_USERNAME and FRAUDWATCH_SASL_PASSWORD`);
  }
  if (!c.saslMechanism && (c.saslUsername || c.saslPassword)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', 'a SASL user name or password was given without FRAUDWATCH_SASL_MECHANISM');
  }
  if (Boolean(c.tlsCertFile) !== Boolean(c.tlsKeyFile)) {
    throw new FraudwatchError('FW_CLI_BAD_FLAG', 'FRAUDWATCH_TLS_CERT_FILE and FRAUDWATCH_TLS_KEY_FILE go together');
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
    sessionTimeoutMs: c.sessionTimeout,
    heartbeatMs: Math.max(500, Math.floor(c.sessionTimeout / 10)),
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
