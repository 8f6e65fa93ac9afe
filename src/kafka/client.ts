import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Kafka, logLevel as KafkaLogLevel, Partitioners, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../daemon/config.js';
import { FraudwatchError } from '../errors.js';

/*
 * The only place that knows how fraudwatch's settings become a kafkajs client. kafkajs logs
 * through pino here, so one JSON log stream carries both, and secrets stay out of it.
 */

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

function logCreator(logger: Logger) {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // kafkajs reports retried errors at ERROR; they are expected during a broker restart,
      // so they are logged at warn and the daemon's own error lines stay meaningful.
      const lvl = LEVELS[level] ?? 'info';
      kafkaLogger[lvl === 'error' ? 'warn' : lvl]({ ...extra, namespace: log.namespace }, message);
    };
}

const CONNECTION_TIMEOUT_MS = 5_000;

/** The TLS options kafkajs gets, and the start-up probe with them. */
function tlsOptions(config: DaemonConfig): ConnectionOptions | undefined {
  if (!config.tls) return undefined;
  return {
    rejectUnauthorized: config.tls.rejectUnauthorized,
    ...(config.tls.ca ? { ca: [config.tls.ca] } : {}),
    ...(config.tls.cert ? { cert: config.tls.cert, key: config.tls.key } : {}),
  };
}

export function createKafka(config: DaemonConfig, logger: Logger): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...config.brokers],
    logCreator: logCreator(logger),
    logLevel: KafkaLogLevel.WARN,
    // Reconnects back off exponentially up to 30 s and never give up: an outage is waited out,
    // with /readyz false meanwhile, rather than ending the process.
    retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
    connectionTimeout: CONNECTION_TIMEOUT_MS,
  };
  const ssl = tlsOptions(config);
  if (ssl) kafkaConfig.ssl = ssl;
  if (config.sasl) {
    const { mechanism, username, password } = config.sasl;
    kafkaConfig.sasl =
      mechanism === 'plain'
        ? { mechanism, username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism, username, password }
          : { mechanism, username, password };
  }
  return new Kafka(kafkaConfig);
}

/** kafkajs's default partitioner (murmur2, the Java client's), named so it logs no warning. */
export const defaultPartitioner = Partitioners.DefaultPartitioner;

/*
 * Start-up errors. kafkajs retries a connection error ten times inside one connect() call (about
 * two minutes with the back-off above) before the daemon hears of it, logging uncoded lines of its
 * own meanwhile, and it takes a broker certificate it cannot verify for a connection error like
 * any other, so a wrong CA would be retried for ever. Hence, before each start-up attempt, the
 * daemon opens one connection to each bootstrap broker itself, as kafkajs would (TCP, or TLS with
 * the same options), and what that finds, or what kafkajs's connect() then throws, becomes a
 * coded error:
 *   FW_KAFKA_CONNECT (retried): no broker answered; the brokers, and why for each.
 *   FW_KAFKA_AUTH (not retried): SASL refused (wrong user or password, a mechanism the listener
 *   does not enable, SASL against a listener without it), or the broker's certificate not
 *   trusted (wrong CA, wrong host name, expired). The Java client does not retry these either:
 *   SaslAuthenticationException and SslAuthenticationException are both AuthenticationExceptions.
 * Classification reads kafkajs's error names, protocol error types and Node's error codes, never
 * message text. No message carries the password: kafkajs puts none in its errors, and these name
 * only the mechanism and the user. One blind spot, kafkajs's: its SCRAM client reports any failure
 * during the exchange as KafkaJSSASLAuthenticationError, without the cause, so a broker that drops
 * the connection in the middle of it (a restart at that very moment) also reads as FW_KAFKA_AUTH.
 */

/** kafkajs protocol errors of the SASL exchange (Kafka's error codes 33, 34 and 58). */
const SASL_ERROR_TYPES: ReadonlySet<string> = new Set(['UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE', 'SASL_AUTHENTICATION_FAILED']);

/** Node's (OpenSSL's) certificate verification errors: the broker's certificate is not trusted. */
const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A TLS alert from a broker that refuses our client certificate (mutual TLS). */
const TLS_CLIENT_CERT_ALERT = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE)$/;

function isTlsTrustCode(code: unknown): code is string {
  return typeof code === 'string' && (TLS_TRUST_CODES.has(code) || TLS_CLIENT_CERT_ALERT.test(code));
}

function tlsAuthError(config: DaemonConfig, broker: string | undefined, code: string, cause?: unknown): FraudwatchError {
  const hint = TLS_CLIENT_CERT_ALERT.test(code)
    ? 'the broker refused the client certificate (FRAUDWATCH_TLS_CERT_FILE, FRAUDWATCH_TLS_KEY_FILE)'
    : "the broker's certificate is not trusted: check FRAUDWATCH_TLS_CA_FILE and that the broker's certificate names the host in FRAUDWATCH_BROKERS";
  return new FraudwatchError('FW_KAFKA_AUTH', `TLS to ${broker ?? 'the brokers'} failed (${code}): ${hint}`, { brokers: config.brokers, broker, tlsError: code }, { cause });
}

interface KafkaJsLikeError {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly broker?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

/**
 * What an error thrown while connecting means to fraudwatch: FW_KAFKA_AUTH, FW_KAFKA_CONNECT
 * with the broker list, or the error itself when it is neither (or already coded).
 */
export function classifyConnectError(err: unknown, config: DaemonConfig): unknown {
  if (err instanceof FraudwatchError || typeof err !== 'object' || err === null) return err;
  // kafkajs wraps: NumberOfRetriesExceeded and NonRetriableError carry the real error as cause.
  let connection = false;
  const seen = new Set<unknown>();
  for (let e = err as KafkaJsLikeError | undefined; e && typeof e === 'object' && !seen.has(e); e = e.cause as KafkaJsLikeError | undefined) {
    seen.add(e);
    if (e.name === 'KafkaJSSASLAuthenticationError' || (typeof e.type === 'string' && SASL_ERROR_TYPES.has(e.type))) {
      const who = config.sasl ? `SASL ${config.sasl.mechanism.toUpperCase()} as ${config.sasl.username}` : 'SASL';
      const why = e.type === 'ILLEGAL_SASL_STATE' ? 'the listener does not speak SASL (a PLAINTEXT or SSL port?)' : String(e.message);
      return new FraudwatchError('FW_KAFKA_AUTH', `${who}: ${why}`, { brokers: config.brokers, mechanism: config.sasl?.mechanism, username: config.sasl?.username, kafkaError: e.type ?? e.name }, { cause: err });
    }
    if (isTlsTrustCode(e.code)) return tlsAuthError(config, typeof e.broker === 'string' ? e.broker : undefined, e.code, err);
    if (typeof e.name === 'string' && CONNECTION_ERRORS.has(e.name)) connection = true;
  }
  if (!connection) return err;
  return new FraudwatchError('FW_KAFKA_CONNECT', String((err as KafkaJsLikeError).message), { brokers: config.brokers }, { cause: err });
}

/** kafkajs errors that mean "no usable connection", directly or as a cause. */
const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** One broker's probe: undefined when it answered, else why not. */
type ProbeFailure = { readonly broker: string; readonly code: string } | undefined;

function probeBroker(broker: string, tls: ConnectionOptions | undefined, timeoutMs: number): Promise<ProbeFailure> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon);
  const port = Number(broker.slice(colon + 1));
  return new Promise((resolve) => {
    let socket: Socket;
    const done = (failure: ProbeFailure) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(failure);
    };
    const timer = setTimeout(() => done({ broker, code: 'ETIMEDOUT' }), timeoutMs);
    // As kafkajs's socket factory does: SNI only for host names.
    socket = tls
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, () => done(undefined))
      : tcpConnect({ host, port }, () => done(undefined));
    socket.on('error', (e: NodeJS.ErrnoException) => done({ broker, code: e.code ?? e.message }));
  });
}

/**
 * Opens (and closes) one connection to each bootstrap broker, TLS included, before kafkajs
 * tries: resolves when at least one answers; throws FW_KAFKA_AUTH when the ones that answered
 * presented a certificate we do not trust, FW_KAFKA_CONNECT when none could be reached.
 */
export async function probeBrokers(config: DaemonConfig, timeoutMs = CONNECTION_TIMEOUT_MS): Promise<void> {
  const failures = await Promise.all(config.brokers.map((b) => probeBroker(b, tlsOptions(config), timeoutMs)));
  if (failures.some((f) => f === undefined)) return;
  const untrusted = failures.find((f) => isTlsTrustCode(f!.code));
  if (untrusted) throw tlsAuthError(config, untrusted.broker, untrusted.code);
  const why = failures.map((f) => `${f!.broker} ${f!.code}`).join(', ');
  throw new FraudwatchError('FW_KAFKA_CONNECT', `no broker answered (${why})`, { brokers: config.brokers, failures: failures.map((f) => ({ ...f })) });
}
