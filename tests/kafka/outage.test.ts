import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { attackLines, brokerScript, daemonEnv, eventually, httpGet, outage, ownBroker, produceLines, readTopic, spawnDaemon, testBrokers, type DaemonProcess } from './harness.js';

// This test stops and restarts a broker, so it runs its own on a separate port, started with the
// project's script, never the shared one. It needs the script to work (Java, Maven).
const OUTAGE_PORT = 19392;
const shared = await testBrokers();

describe.skipIf(!shared)('broker outage', () => {
  let daemon: DaemonProcess | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await brokerScript('stop', OUTAGE_PORT).catch(() => undefined);
  });

  it('reports not ready while the broker is down, then resumes where it stopped, losing nothing', async () => {
    const { brokers, kafka, input, alerts } = await ownBroker(OUTAGE_PORT, 'outage');
    const before = ['o1', 'o2', 'o3'];
    const after = ['o4', 'o5', 'o6'];
    await produceLines(kafka, input, attackLines(before, 0));
    daemon = spawnDaemon(daemonEnv(brokers, { input, alerts }, { FRAUDWATCH_LATENESS: '0s' }));
    const port = await daemon.port;
    await readTopic(kafka, alerts, (m) => m.length >= 3, 60_000);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200)).status).toBe(200);

    await outage(daemon, port, OUTAGE_PORT);
    await produceLines(kafka, input, attackLines(after, 3_600_000));
    const got = (await readTopic(kafka, alerts, (m) => new Set(m.map((x) => x.key!.toString())).size >= 6, 120_000)).map(
      (m) => JSON.parse(m.value!.toString()) as Alert,
    );
    expect(new Set(got.map((a) => a.accountId))).toEqual(new Set([...before, ...after]));
    // At least once: a redelivery repeats an alertId, never invents a different alert.
    expect(new Set(got.map((a) => a.alertId)).size).toBe(6);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200, 60_000)).status).toBe(200);
    expect(await daemon.stop()).toBe(0);
  }, 300_000);
});
