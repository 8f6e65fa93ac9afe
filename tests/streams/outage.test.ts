import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { attackLines, brokerScript, daemonEnv, eventually, httpGet, outage, ownBroker, produceLines, readCommitted, spawnDaemon, testBrokers, type DaemonProcess } from '../kafka/harness.js';

// Stops and restarts a broker, so it runs its own on a port of its own (not the shared broker,
// not the at-least-once outage test's), started with the project's script.
const OUTAGE_PORT = 19492;
const shared = await testBrokers();

/** read_committed with kcat (see readCommitted in the harness for why not kafkajs). */
async function committedAlerts(brokers: string, topic: string): Promise<Alert[]> {
  return (await readCommitted(brokers, topic)).map((l) => JSON.parse(l) as Alert);
}

describe.skipIf(!shared)('exactly-once through a broker outage', () => {
  let daemon: DaemonProcess | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await brokerScript('stop', OUTAGE_PORT).catch(() => undefined);
  });

  it('is not ready while the broker is down, then resumes from its last transaction: every alert exactly once', async () => {
    const { brokers, kafka, input, alerts } = await ownBroker(OUTAGE_PORT, 'eos-outage');
    const before = ['o1', 'o2', 'o3'];
    const after = ['o4', 'o5', 'o6'];
    await produceLines(kafka, input, attackLines(before, 0));
    daemon = spawnDaemon(daemonEnv(brokers, { input, alerts }, { FRAUDWATCH_PROCESSING: 'exactly_once', FRAUDWATCH_LATENESS: '0s', FRAUDWATCH_SESSION_TIMEOUT: '6s' }));
    const port = await daemon.port;
    await eventually(() => committedAlerts(brokers, alerts), (a) => a.length >= 3, 60_000, 500);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200)).status).toBe(200);

    await outage(daemon, port, OUTAGE_PORT);
    await produceLines(kafka, input, attackLines(after, 3_600_000));
    const got = await eventually(() => committedAlerts(brokers, alerts), (a) => new Set(a.map((x) => x.accountId)).size >= 6, 120_000, 1000);
    if (got.length < 6) console.error(daemon.logs.filter((l) => !l.includes('"level":30')).slice(-30).join('\n'));
    await new Promise((r) => setTimeout(r, 3000));
    const all = await committedAlerts(brokers, alerts);
    expect(new Set(all.map((a) => a.accountId))).toEqual(new Set([...before, ...after]));
    // Exactly once: not even a redelivery with the same alertId.
    expect(all.length).toBe(6);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200, 60_000)).status).toBe(200);
    expect(await daemon.stop()).toBe(0);
  }, 300_000);
});
