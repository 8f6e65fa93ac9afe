import type { Server } from 'node:http';
import type { Admin, Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { FraudwatchError } from '../errors.js';
import { classifyConnectError, createKafka, probeBrokers } from '../kafka/client.js';
import type { DaemonConfig } from './config.js';
import { startHttp, type HealthState } from './http.js';
import { retryWithBackoff, runShutdown, watchRulesFile } from './lifecycle.js';
import type { DaemonMetrics } from './metrics.js';

/** How often `onTick` runs: idle detection and flushes, the only wall-clock work. */
const TICK_MS = 200;
/** No completed fetch for this long means the brokers are out of reach: not ready. */
const FETCH_STALE_MS = 10_000;
/**
 * Credentials refused while running end the daemon once refusals have gone on this long with
 * nothing succeeding meanwhile: long enough to ride out a broker that refuses while it is still
 * loading its metadata after a restart, short enough that a rotated password is reported within
 * seconds rather than retried for ever.
 */
export const AUTH_FAILURE_GRACE_MS = 10_000;

export type ShutdownStep = readonly [string, () => Promise<unknown>];

/**
 * What the at-least-once daemon (src/daemon/daemon.ts) and the exactly-once runner
 * (src/streams/runner.ts) have in common as processes beside Kafka: the HTTP endpoints, start-up
 * with retries, one consumer that is restarted when kafkajs gives up on it, the rules file
 * watch, readiness, and the order of a graceful shutdown. They differ in how they process,
 * produce and commit, which is what the abstract members are.
 */
export abstract class KafkaService {
  protected readonly kafka: Kafka;
  protected readonly admin: Admin;
  protected consumer: Consumer | undefined;
  protected abstract readonly metrics: DaemonMetrics;
  protected joined = false;
  protected stopping = false;
  private lastFetch = 0;
  private stopped: Promise<void> | undefined;
  private tick: NodeJS.Timeout | undefined;
  private unwatchRules: () => void = () => undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private http: Server | undefined;
  /** Why the last start-up attempt failed, for /readyz until one succeeds. */
  private startProblem: string | undefined;
  /** While running: since when the brokers have refused our credentials, and why (for /readyz). */
  private authFailing: { readonly since: number; readonly reason: string } | undefined;
  private failWith: (err: FraudwatchError) => void = () => undefined;
  /**
   * Settles with the error that ended the service after it had started: credentials the
   * brokers keep refusing (FW_KAFKA_AUTH). `fraudwatch run` then stops it and exits 2, as it
   * does for the same error at start-up; an orchestrator restarts it with the current secret.
   */
  readonly failed: Promise<FraudwatchError> = new Promise((resolve) => (this.failWith = resolve));
  /** The port /healthz, /readyz and /metrics listen on, once started. */
  httpPort = 0;

  constructor(
    protected readonly config: DaemonConfig,
    protected readonly log: Logger,
  ) {
    this.kafka = createKafka(config, log);
    this.admin = this.kafka.admin();
  }

  /** Connects the admin client and whatever else must exist before consuming (topics, producers). Retried. */
  protected abstract connect(): Promise<void>;
  /** Creates the consumer (with `newConsumer`), subscribes and runs it. */
  protected abstract startConsumer(): Promise<void>;
  /** Runs every TICK_MS: idle inputs, flushes, periodic commits. */
  protected abstract onTick(): Promise<void>;
  /** Re-reads the rules file (SIGHUP, or the file changed). */
  abstract reloadRules(trigger: string): void | Promise<void>;
  /** What a shutdown does before stopping the consumer (commits that can only go through it). */
  protected beforeConsumerStop(): readonly ShutdownStep[] {
    return [];
  }

  /** What a shutdown does between stopping the consumer and closing the admin client. */
  protected abstract flushSteps(): readonly ShutdownStep[];
  /** Why the service is not ready beyond the common reasons, or undefined; and what it does when ready. */
  protected abstract notReadyReason(): string | undefined;
  protected abstract readyReason(): string;
  /** What the start-up log line says (configuration, rules, processing mode). */
  protected abstract startInfo(): Record<string, unknown>;
  /** Logged when a shutdown overruns its deadline: what the next start will find. */
  protected abstract readonly shutdownTimeoutMessage: string;
  /** The last log line of a clean shutdown: what was left uncommitted. */
  protected abstract logStopped(): void;

  async start(): Promise<void> {
    this.log.info(this.startInfo(), 'starting');
    this.metrics.probeReadinessOnScrape(() => this.healthState().ready());
    const { server, port } = await startHttp(this.config.httpHost, this.config.httpPort, this.healthState(), this.metrics);
    this.http = server;
    this.httpPort = port;
    this.log.info({ port, host: this.config.httpHost }, 'http listening (/healthz, /readyz, /metrics)');
    try {
      // The probe turns an unreachable broker or an untrusted certificate into a coded error at
      // once, rather than after kafkajs's own two minutes of retries (see src/kafka/client.ts).
      await this.withBackoff('connect', async () => {
        await this.probe();
        await this.connect();
      });
      await this.startConsumer();
    } catch (err) {
      // Not retriable (FW_KAFKA_AUTH, ...): close the HTTP server and the clients, or they would
      // keep the process alive and the start-up error would not end it.
      await this.stop('start-up failed');
      throw err;
    }
    this.tick = setInterval(() => void this.onTick(), TICK_MS);
    this.unwatchRules = watchRulesFile(this.config.rulesFile, () => void this.reloadRules('file change'), this.log);
  }

  /** Stops fetching, lets the batches in hand finish and commit, disconnects. Safe to call twice. */
  stop(reason = 'stop'): Promise<void> {
    this.stopped ??= this.doStop(reason);
    return this.stopped;
  }

  private async doStop(reason: string): Promise<void> {
    this.stopping = true;
    this.log.info({ reason }, 'shutting down');
    clearInterval(this.tick);
    clearTimeout(this.restartTimer);
    this.unwatchRules();
    await runShutdown(
      this.log,
      [
        ...this.beforeConsumerStop(),
        // disconnect() lets the running batches finish (and commit) before it returns.
        ['consumer', async () => this.consumer?.disconnect()],
        ...this.flushSteps(),
        ['admin', () => this.admin.disconnect()],
        ['http', () => new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()))],
      ],
      this.shutdownTimeoutMessage,
    );
    this.logStopped();
  }

  /**
   * A consumer with the settings both services share, its health events wired: a completed
   * fetch proves the brokers reachable, a rebalance or a crash means not joined, and a crash
   * kafkajs will not recover from restarts the consumer (an outage must not end the daemon).
   */
  protected newConsumer(settings: Omit<ConsumerConfig, 'groupId' | 'sessionTimeout' | 'heartbeatInterval' | 'allowAutoTopicCreation' | 'retry'>): Consumer {
    const consumer = this.kafka.consumer({
      groupId: this.config.groupId,
      sessionTimeout: this.config.sessionTimeoutMs,
      heartbeatInterval: this.config.heartbeatMs,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
      ...settings,
    });
    this.consumer = consumer;
    const ev = consumer.events;
    consumer.on(ev.FETCH, () => {
      this.lastFetch = Date.now();
      this.authFailing = undefined;
    });
    consumer.on(ev.REBALANCING, () => {
      this.joined = false;
    });
    consumer.on(ev.CRASH, (e) => {
      this.joined = false;
      // A retriable error (a group coordinator still loading on a fresh broker, a leader moving):
      // kafkajs restarts the consumer and rejoins by itself, nothing is lost, so it is a warning.
      // Anything else is an error, and the consumer is restarted here.
      if (e.payload.restart) this.log.warn({ err: e.payload.error, restart: true }, 'consumer restarting after a retriable error; kafkajs rejoins the group');
      else this.log.error({ err: e.payload.error, restart: false }, 'consumer crashed');
      if (this.authRefused(e.payload.error)) return;
      if (!e.payload.restart && !this.stopping) this.scheduleConsumerRestart();
    });
    return consumer;
  }

  /** Before a crashed consumer is started again (the runner closes its tasks here). */
  protected async beforeConsumerRestart(): Promise<void> {}

  private scheduleConsumerRestart(delayMs = 2000): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(async () => {
      try {
        await this.consumer?.disconnect().catch(() => undefined);
        await this.beforeConsumerRestart();
        await this.startConsumer();
        this.log.info('consumer restarted');
      } catch (err) {
        this.log.error({ err }, 'consumer restart failed; trying again');
        this.authRefused(err);
        if (!this.stopping) this.scheduleConsumerRestart(Math.min(delayMs * 2, 30_000));
      }
    }, delayMs);
  }

  private healthState(): HealthState {
    return {
      alive: () => !this.stopping,
      ready: () => {
        let r: { ready: boolean; reason: string };
        const own = this.stopping || !this.joined ? undefined : this.notReadyReason();
        if (this.stopping) r = { ready: false, reason: 'shutting down' };
        else if (this.authFailing !== undefined) r = { ready: false, reason: this.authFailing.reason };
        else if (!this.joined) r = { ready: false, reason: this.startProblem ?? 'not joined to the consumer group' };
        else if (own !== undefined) r = { ready: false, reason: own };
        else if (Date.now() - this.lastFetch > FETCH_STALE_MS) r = { ready: false, reason: 'no fetch from the brokers in 10 s' };
        else r = { ready: true, reason: this.readyReason() };
        this.metrics.ready.set(r.ready ? 1 : 0);
        return r;
      },
    };
  }

  /**
   * Whether a Kafka error seen while running is the brokers refusing our credentials (a rotated
   * password, a removed user, a certificate no longer trusted). The first refusal makes the
   * service not ready with the reason and logs it with its code; refusals that go on for
   * AUTH_FAILURE_GRACE_MS with nothing succeeding meanwhile end it (`failed`). Not retried for
   * ever: the same secret will be refused again, and a daemon that kept trying would only look
   * like an outage (and, against some brokers, lock the account).
   */
  protected authRefused(err: unknown, now = Date.now()): boolean {
    const coded = classifyConnectError(err, this.config);
    if (!(coded instanceof FraudwatchError) || coded.code !== 'FW_KAFKA_AUTH' || this.stopping) return false;
    if (this.authFailing === undefined) {
      this.authFailing = { since: now, reason: `${coded.code}: ${coded.message}` };
      this.log.error(
        { code: coded.code, ...coded.details, stopsInMs: AUTH_FAILURE_GRACE_MS },
        `the brokers refused our credentials while running (${coded.message}); not ready, and stopping if this goes on`,
      );
    } else if (now - this.authFailing.since >= AUTH_FAILURE_GRACE_MS) {
      this.log.error({ code: coded.code, ...coded.details, refusedForMs: now - this.authFailing.since }, 'the brokers keep refusing our credentials; stopping');
      this.failWith(coded);
    }
    return true;
  }

  /** Something reached the brokers with our credentials: an earlier refusal is over. */
  protected brokersAccepted(): void {
    this.authFailing = undefined;
  }

  /** One connection to each bootstrap broker, with the client's TLS options: coded errors at once. */
  protected probe(): Promise<void> {
    return probeBrokers(this.config);
  }

  /** Retries `fn`, its kafkajs errors classified (FW_KAFKA_AUTH is not retried, FW_KAFKA_CONNECT is). */
  protected async withBackoff(what: string, fn: () => Promise<void>): Promise<void> {
    const classified = () => fn().catch((err: unknown) => Promise.reject(classifyConnectError(err, this.config)));
    const failed = (err: unknown) => {
      this.startProblem = `${what} failed: ${err instanceof FraudwatchError ? `${err.code}: ` : ''}${(err as Error).message}`;
    };
    await retryWithBackoff(what, classified, this.log, () => this.stopping, failed);
    this.startProblem = undefined;
  }
}
