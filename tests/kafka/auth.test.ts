/**
 * An authenticated broker: the daemon against SCRAM (SASL_PLAINTEXT) and TLS listeners of a broker
 * of this file's own (scripts/kafka-local.sh with KAFKA_AUTH=1), run the way users run it, with
 * the FRAUDWATCH_SASL_* and FRAUDWATCH_TLS_* variables. The right secret works; a wrong one, a
 * mechanism the listener does not enable, or a CA that did not sign the broker's certificate ends
 * the start-up within seconds with FW_KAFKA_AUTH; no secret reaches a log line at any level; and
 * unreachable brokers are retried with one coded line per back-off step.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attackLines,
  createTopic,
  daemonEnv,
  eventually,
  httpGet,
  kafkaFor,
  produceLines,
  readTopic,
  spawnDaemon,
  uniqueName,
  type DaemonProcess,
} from './harness.js';

const exec = promisify(execFile);
const SCRIPT = 'scripts/kafka-local.sh';
/**
 * Away from the other brokers' ports (9092, 19092, 19392, 19492, 19592, 19692) and their
 * derived ones: this broker also takes 19893 (controller), 19902 (SASL) and 19912 (TLS).
 */
const AUTH_PORT = 19892;
const scriptEnv = { ...process.env, KAFKA_PORT: String(AUTH_PORT), KAFKA_AUTH: '1' };

interface AuthBroker {
  /** The PLAINTEXT listener, for the test's own producer and reader. */
  readonly plaintext: string;
  readonly sasl: string;
  readonly tls: string;
  readonly username: string;
  readonly passwordFile: string;
  readonly password: string;
  readonly caFile: string;
}

/** A fresh broker with auth (new password, new certificates), or undefined with a loud banner. */
async function startAuthBroker(): Promise<AuthBroker | undefined> {
  try {
    await exec('bash', [SCRIPT, 'reset'], { env: scriptEnv, timeout: 120_000 });
    await exec('bash', [SCRIPT, 'start'], { env: scriptEnv, timeout: 240_000 });
    const { stdout } = await exec('bash', [SCRIPT, 'bootstrap', 'auth'], { env: scriptEnv });
    const info = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const plaintext = (await exec('bash', [SCRIPT, 'bootstrap'], { env: scriptEnv })).stdout.trim();
    return {
      plaintext,
      sasl: info.sasl!,
      tls: info.tls!,
      username: info.sasl_username!,
      passwordFile: info.sasl_password_file!,
      password: readFileSync(info.sasl_password_file!, 'utf8'),
      caFile: info.tls_ca_file!,
    };
  } catch (err) {
    // Whatever got started is stopped: the describe below is skipped, and its afterAll with it.
    await exec('bash', [SCRIPT, 'stop'], { env: scriptEnv, timeout: 120_000 }).catch(() => undefined);
    const why = (err as { stderr?: string }).stderr || (err as Error).message;
    if (process.env.FRAUDWATCH_REQUIRE_KAFKA === '1') throw new Error(`FRAUDWATCH_REQUIRE_KAFKA=1 but the broker with auth could not be started: ${why}`);
    console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING THE AUTHENTICATED-BROKER TESTS: ${why.trim().split('\n').pop()}\n${'!'.repeat(78)}\n`);
    return undefined;
  }
}

const broker = await startAuthBroker();

interface LogLine {
  level: number;
  time: number;
  msg?: string;
  code?: string;
  brokers?: string[];
  retryInMs?: number;
  component?: string;
  [k: string]: unknown;
}

function jsonLines(d: DaemonProcess): LogLine[] {
  return d.logs.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return []; // the CLI's one-line error on stderr
    }
  });
}

describe.skipIf(!broker)('fraudwatch run against a broker with SCRAM and TLS listeners', () => {
  const b = broker!;
  let kafka: Kafka;
  let admin: Admin;
  let dir: string;
  const daemons: DaemonProcess[] = [];
  /** Every secret any daemon in this file was given: none may appear in any of their log lines. */
  const secrets: string[] = broker ? [broker.password] : [];
  const start = (env: Record<string, string>, args: string[] = []) => {
    // debug: the most a daemon ever logs.
    const d = spawnDaemon({ FRAUDWATCH_LOG_LEVEL: 'debug', ...env }, args);
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    kafka = kafkaFor(b.plaintext);
    admin = kafka.admin();
    await admin.connect();
    dir = mkdtempSync(join(tmpdir(), 'fw-auth-'));
  });

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    await admin?.disconnect().catch(() => undefined);
    await exec('bash', [SCRIPT, 'stop'], { env: scriptEnv, timeout: 120_000 }).catch((err) => console.error(`stopping the auth broker: ${(err as Error).message}`));
  });

  /** Events in, one brute_force alert per account out, read back over PLAINTEXT. */
  async function runsEndToEnd(listener: string, extra: Record<string, string>): Promise<void> {
    const input = uniqueName('auth-in');
    const alerts = uniqueName('auth-alerts');
    const accounts = ['au1', 'au2'];
    await createTopic(admin, input, 1);
    await produceLines(kafka, input, attackLines(accounts));
    const d = start(daemonEnv(listener, { input, alerts }, { FRAUDWATCH_LATENESS: '0s', ...extra }));
    await d.waitForLog(/joined consumer group/, 60_000);
    const got = (await readTopic(kafka, alerts, (m) => m.length >= accounts.length, 60_000)).map((m) => JSON.parse(m.value!.toString()) as { detector: string; accountId: string });
    expect(got.map((a) => `${a.detector} ${a.accountId}`).sort()).toEqual(accounts.map((a) => `brute_force ${a}`));
    const port = await d.port;
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200, 30_000)).status).toBe(200);
    expect(jsonLines(d).filter((l) => l.code === 'FW_KAFKA_AUTH' || l.code === 'FW_KAFKA_CONNECT')).toEqual([]);
    expect(await d.stop()).toBe(0);
  }

  /** Starts a daemon that must give up: returns its FW_KAFKA_AUTH line and how long it took. */
  async function failsWithAuth(env: Record<string, string>): Promise<{ line: LogLine; ms: number; d: DaemonProcess }> {
    const started = Date.now();
    const d = start(daemonEnv(env.FRAUDWATCH_BROKERS!, { input: uniqueName('auth-in'), alerts: uniqueName('auth-alerts') }, env));
    // kafkajs alone would retry a connection error for about two minutes; this must take seconds.
    const code = await Promise.race([d.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
    const ms = Date.now() - started;
    if (code === 'hung') throw new Error(`still running after 20 s; last lines:\n${d.logs.slice(-10).join('\n')}`);
    expect(code).toBe(2); // a configuration error: see README "Error codes"
    // 'exit' can come before the last output is read: wait for the JSON line and the CLI's own
    // line on stderr (for whoever reads the terminal rather than the JSON).
    await d.waitForLog(/"code":"FW_KAFKA_AUTH"/, 5000);
    await d.waitForLog(/^fraudwatch: FW_KAFKA_AUTH: /, 5000);
    const coded = jsonLines(d).filter((l) => l.code === 'FW_KAFKA_AUTH');
    expect(coded).toHaveLength(1);
    expect(coded[0]!.level).toBe(50);
    expect(coded[0]!.msg).toBe('connect failed; not retrying');
    // Never retried, never reported as unreachable.
    expect(jsonLines(d).filter((l) => l.code === 'FW_KAFKA_CONNECT' || /retrying in/.test(l.msg ?? ''))).toEqual([]);
    return { line: coded[0]!, ms, d };
  }

  it('SCRAM-SHA-256 with the password from a file joins the group, scores events and produces alerts', async () => {
    await runsEndToEnd(b.sasl, {
      FRAUDWATCH_SASL_MECHANISM: 'scram-sha-256',
      FRAUDWATCH_SASL_USERNAME: b.username,
      FRAUDWATCH_SASL_PASSWORD_FILE: b.passwordFile,
    });
  }, 120_000);

  it('SCRAM-SHA-512 with the password in the environment does too', async () => {
    await runsEndToEnd(b.sasl, {
      FRAUDWATCH_SASL_MECHANISM: 'scram-sha-512',
      FRAUDWATCH_SASL_USERNAME: b.username,
      FRAUDWATCH_SASL_PASSWORD: b.password,
    });
  }, 120_000);

  it('TLS trusting the CA the script made does too', async () => {
    await runsEndToEnd(b.tls, { FRAUDWATCH_TLS_CA_FILE: b.caFile });
  }, 120_000);

  it('a wrong password fails the start-up within seconds with FW_KAFKA_AUTH and exit 2', async () => {
    const wrong = `${b.password}-not`;
    secrets.push(wrong);
    const { line, ms } = await failsWithAuth({
      FRAUDWATCH_BROKERS: b.sasl,
      FRAUDWATCH_SASL_MECHANISM: 'scram-sha-256',
      FRAUDWATCH_SASL_USERNAME: b.username,
      FRAUDWATCH_SASL_PASSWORD: wrong,
    });
    expect(line).toMatchObject({ mechanism: 'scram-sha-256', username: b.username, brokers: [b.sasl], kafkaError: 'KafkaJSSASLAuthenticationError' });
    console.info(`wrong SCRAM password: the daemon exited ${ms} ms after it was spawned`);
  }, 60_000);

  it('a mechanism the listener does not enable (PLAIN on the SCRAM listener) fails the same way', async () => {
    const { line } = await failsWithAuth({
      FRAUDWATCH_BROKERS: b.sasl,
      FRAUDWATCH_SASL_MECHANISM: 'plain',
      FRAUDWATCH_SASL_USERNAME: b.username,
      FRAUDWATCH_SASL_PASSWORD_FILE: b.passwordFile,
    });
    expect(line).toMatchObject({ mechanism: 'plain', kafkaError: 'UNSUPPORTED_SASL_MECHANISM' });
  }, 60_000);

  it('SASL against a listener without it (PLAINTEXT) fails the same way', async () => {
    const { line } = await failsWithAuth({
      FRAUDWATCH_BROKERS: b.plaintext,
      FRAUDWATCH_SASL_MECHANISM: 'scram-sha-512',
      FRAUDWATCH_SASL_USERNAME: b.username,
      FRAUDWATCH_SASL_PASSWORD_FILE: b.passwordFile,
    });
    expect(line).toMatchObject({ kafkaError: 'ILLEGAL_SASL_STATE' });
  }, 60_000);

  it('TLS with a CA that did not sign the broker certificate fails with FW_KAFKA_AUTH naming the check', async () => {
    const otherCa = join(dir, 'other-ca.pem');
    await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'other-ca.key'), '-out', otherCa, '-days', '1', '-subj', '/CN=not the broker CA']);
    const { line, ms } = await failsWithAuth({ FRAUDWATCH_BROKERS: b.tls, FRAUDWATCH_TLS_CA_FILE: otherCa });
    expect(line).toMatchObject({ broker: b.tls, tlsError: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(String(line.err)).toContain('FRAUDWATCH_TLS_CA_FILE');
    console.info(`untrusted broker certificate: the daemon exited ${ms} ms after it was spawned`);
  }, 60_000);

  it('unreachable brokers: one FW_KAFKA_CONNECT line per back-off step with the brokers and the delay; alive, not ready', async () => {
    const d = start({ FRAUDWATCH_GROUP_ID: uniqueName('fw-group') }, ['--brokers', '127.0.0.1:1']);
    const port = await d.port;
    // Attempts at about 0, 0.5, 1.5, 3.5 and 7.5 s.
    await eventually(async () => jsonLines(d).filter((l) => l.code === 'FW_KAFKA_CONNECT').length, (n) => n >= 5, 20_000, 200);
    const ready = await httpGet(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('FW_KAFKA_CONNECT');
    expect((await httpGet(port, '/healthz')).status).toBe(200);
    expect(d.proc.exitCode).toBeNull();

    const lines = jsonLines(d);
    const coded = lines.filter((l) => l.code === 'FW_KAFKA_CONNECT');
    for (const l of coded) {
      expect(l.level).toBe(40);
      expect(l.brokers).toEqual(['127.0.0.1:1']);
      expect(l.failures).toEqual([{ broker: '127.0.0.1:1', code: 'ECONNREFUSED' }]);
    }
    // Backing off: each delay twice the last (to 30 s), and each line at least that delay after
    // the one before, so the rate of lines falls, whatever the number of attempts.
    expect(coded.map((l) => l.retryInMs)).toEqual(coded.map((_l, i) => Math.min(500 * 2 ** i, 30_000)));
    for (let i = 1; i < coded.length; i++) expect(coded[i]!.time - coded[i - 1]!.time).toBeGreaterThanOrEqual(coded[i - 1]!.retryInMs! - 5);
    // Nothing else repeats meanwhile (no kafkajs chatter: it is not even tried until a broker answers).
    expect(lines.filter((l) => l.level >= 40 && l.code !== 'FW_KAFKA_CONNECT')).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 60_000);

  it('a password rotated while running: not ready with FW_KAFKA_AUTH at once, exit 2 when the refusals go on; the new password then works', async () => {
    const input = uniqueName('auth-in');
    const alerts = uniqueName('auth-alerts');
    await createTopic(admin, input, 1);
    const d = start(
      daemonEnv(b.sasl, { input, alerts }, { FRAUDWATCH_SASL_MECHANISM: 'scram-sha-256', FRAUDWATCH_SASL_USERNAME: b.username, FRAUDWATCH_SASL_PASSWORD: b.password }),
    );
    await d.waitForLog(/joined consumer group/, 60_000);
    const port = await d.port;
    await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200, 30_000);
    // The operator rotates the password; connections already open stay authenticated, so the
    // broker is restarted to make every client log in again, as a rolling restart would.
    await admin.disconnect();
    await exec('bash', [SCRIPT, 'rotate-password'], { env: scriptEnv, timeout: 120_000 });
    const rotated = readFileSync(b.passwordFile, 'utf8');
    secrets.push(rotated);
    expect(rotated).not.toBe(b.password);
    await exec('bash', [SCRIPT, 'stop'], { env: scriptEnv, timeout: 120_000 });
    await exec('bash', [SCRIPT, 'start'], { env: scriptEnv, timeout: 240_000 });
    const restarted = Date.now();
    admin = kafka.admin();
    await admin.connect();

    const notReady = await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 503 && r.body.includes('FW_KAFKA_AUTH'), 30_000, 200);
    expect(notReady.body).toContain('SCRAM-SHA-256');
    expect((await httpGet(port, '/healthz')).status).toBe(200);
    const code = await Promise.race([d.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    if (code === 'hung') throw new Error(`still running 60 s after the broker came back; last lines:\n${d.logs.slice(-10).join('\n')}`);
    expect(code).toBe(2);
    const gaveUpAfter = Date.now() - restarted;
    await d.waitForLog(/^fraudwatch: FW_KAFKA_AUTH: /, 5000);
    const coded = jsonLines(d).filter((l) => l.code === 'FW_KAFKA_AUTH');
    // One line when the refusals start, one when the daemon gives up: not one per retry.
    expect(coded.map((l) => l.level)).toEqual([50, 50]);
    expect(coded[0]).toMatchObject({ username: b.username, mechanism: 'scram-sha-256', kafkaError: 'KafkaJSSASLAuthenticationError' });
    expect(coded[1]!.refusedForMs).toBeGreaterThanOrEqual(10_000);
    console.info(`rotated password: not ready, then exit 2 ${gaveUpAfter} ms after the broker came back`);

    // The new secret from the same file works: what the orchestrator's restart does.
    await runsEndToEnd(b.sasl, { FRAUDWATCH_SASL_MECHANISM: 'scram-sha-256', FRAUDWATCH_SASL_USERNAME: b.username, FRAUDWATCH_SASL_PASSWORD_FILE: b.passwordFile });
  }, 300_000);

  it('no secret appears in any log line at any level, and the script logged none either', () => {
    expect(daemons.length).toBeGreaterThanOrEqual(9);
    // Every one ran at debug, the most a daemon logs.
    for (const d of daemons) expect((jsonLines(d).find((l) => l.msg === 'starting')?.config as { logLevel?: string })?.logLevel).toBe('debug');
    for (const d of daemons) {
      for (const line of d.logs) for (const secret of secrets) expect(line.includes(secret), `a secret in: ${line.slice(0, 200)}`).toBe(false);
    }
    // The broker's own logs and the format output.
    const data = join(b.passwordFile, '..', '..');
    for (const f of ['server.log', 'format.log', 'rotate.log']) for (const secret of secrets) expect(readFileSync(join(data, f), 'utf8').includes(secret), f).toBe(false);
  });
});
