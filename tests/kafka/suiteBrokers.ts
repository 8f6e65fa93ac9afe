/**
 * What the test suite starts and creates on brokers, and how it cleans up after itself; used by
 * the harness (in the test workers), the vitest global setup (tests/kafka/globalSetup.ts, in the
 * main process) and the check script (tests/kafka/brokersLeft.ts). No vitest import here: the
 * global setup and the script run outside a test.
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const exec = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCRIPT = join(REPO, 'scripts/kafka-local.sh');

/** Where the test workers write the names they made (set by the global setup; unset outside vitest). */
export const NAMES_DIR_ENV = 'FRAUDWATCH_TEST_NAMES_DIR';

/**
 * The suite's main broker port: KAFKA_PORT when set (as scripts/kafka-local.sh reads it), else
 * 19092, away from the usual 9092 so a developer's broker is left alone. Tests that stop and
 * restart a broker run their own on fixed ports of their own (19392, 19492, 19692, …).
 */
export function mainTestPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KAFKA_PORT;
  if (raw === undefined || raw === '') return 19092;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_534) throw new Error(`KAFKA_PORT=${raw} is not a port for the test broker (1..65534; the controller takes the next one)`);
  return port;
}

/** scripts/kafka-local.sh's data directory root (FRAUDWATCH_KAFKA_CACHE, else <repo>/.cache/kafka). */
function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FRAUDWATCH_KAFKA_CACHE || join(REPO, '.cache/kafka');
}

/**
 * Ports of this checkout's brokers (scripts/kafka-local.sh, same cache) running now, whatever
 * started them: the script's own test (its pid file names a live process running that port's
 * config). Brokers of other checkouts or other tools are never listed, so never stopped.
 */
export function runningBrokers(env: NodeJS.ProcessEnv = process.env): number[] {
  const root = cacheDir(env);
  if (!existsSync(root)) return [];
  const ports: number[] = [];
  for (const entry of readdirSync(root)) {
    const m = /^data-(\d+)$/.exec(entry);
    if (m === null) continue;
    const pidFile = join(root, entry, 'kafka.pid');
    if (!existsSync(pidFile)) continue;
    const pid = readFileSync(pidFile, 'utf8').trim();
    if (!/^\d+$/.test(pid)) continue;
    try {
      const args = execFileSync('ps', ['-ww', '-o', 'args=', '-p', pid], { encoding: 'utf8' });
      if (args.includes(join(root, entry, 'server.properties'))) ports.push(Number(m[1]));
    } catch {
      // no such process
    }
  }
  return ports.sort((a, b) => a - b);
}

export async function brokerCommand(command: 'start' | 'stop' | 'reset', port: number): Promise<void> {
  await exec('bash', [SCRIPT, command], { env: { ...process.env, KAFKA_PORT: String(port) }, timeout: 240_000 });
}

/** Called by the harness for every name it makes: the global teardown deletes what carries it. */
export function trackName(name: string): void {
  const dir = process.env[NAMES_DIR_ENV];
  if (dir === undefined || dir === '') return;
  try {
    appendFileSync(join(dir, `${process.pid}.txt`), `${name}\n`);
  } catch {
    // best effort: a name not tracked is a topic left behind, not a failed test
  }
}

export function trackedNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = new Set<string>();
  for (const f of readdirSync(dir)) for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) names.add(line);
  return [...names];
}

/**
 * Topics that carry a tracked name: the topics tests created (`uniqueName`), and those the
 * daemon derived from them (`<input>.dlq`, `<alerts>.shadow`, `<group>-repartition-account`,
 * `<group>-state-changelog`, …). Names end in 8 random hex digits, so a prefix never matches
 * anything else.
 */
export function topicsOf(names: readonly string[], topics: readonly string[]): string[] {
  return topics.filter((t) => names.some((n) => t === n || t.startsWith(`${n}.`) || t.startsWith(`${n}-`)));
}

/** Deletes the topics and consumer groups carrying the names on `brokers`; returns how many topics. Never throws. */
export async function deleteTracked(brokers: string, names: readonly string[], warn: (msg: string) => void): Promise<number> {
  if (names.length === 0) return 0;
  const kafka = new Kafka({ clientId: 'fraudwatch-test-teardown', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2 }, connectionTimeout: 3000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const doomed = topicsOf(names, await admin.listTopics());
    for (let i = 0; i < doomed.length; i += 50) await admin.deleteTopics({ topics: doomed.slice(i, i + 50), timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => names.some((n) => g === n || g.startsWith(`${n}-`)));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined); // a group with live members stays
    return doomed.length;
  } catch (err) {
    warn(`could not delete the test topics on ${brokers}: ${(err as Error).message}`);
    return 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
