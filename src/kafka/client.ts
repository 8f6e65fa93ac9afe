import { Kafka, logLevel as KafkaLogLevel, Partitioners, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../daemon/config.js';

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

export function createKafka(config: DaemonConfig, logger: Logger): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...config.brokers],
    logCreator: logCreator(logger),
    logLevel: KafkaLogLevel.WARN,
    // Reconnects back off exponentially up to 30 s and never give up: an outage is waited out,
    // with /readyz false meanwhile, rather than ending the process.
    retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
    connectionTimeout: 5_000,
  };
  if (config.tls) {
    kafkaConfig.ssl = {
      rejectUnauthorized: config.tls.rejectUnauthorized,
      ...(config.tls.ca ? { ca: [config.tls.ca] } : {}),
      ...(config.tls.cert ? { cert: config.tls.cert, key: config.tls.key } : {}),
    };
  }
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
