import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { login } from '../helpers.js';
import { brokerScript, createTopic, daemonEnv, eventually, httpGet, kafkaFor, produceLines, readTopic, spawnDaemon, testBrokers, uniqueName, type DaemonProcess } from './harness.js';

// This test stops and restarts a broker, so it runs its own on a separate port, started with the
// project's script, never the shared one. It needs the script to work (Java, Maven).
const OUTAGE_PORT = 19392;
const shared = await testBrokers();

function attack(account: string, startMs: number): string[] {
  return Array.from({ length: 10 }, (_, i) => JSON.stringify(login(account, startMs + i * 20_000, '198.51.100.1', false)));
}

describe.skipIf(!shared)('broker outage', () => {
  let daemon: DaemonProcess | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await brokerScript('stop', OUTAGE_PORT).catch(() => undefined);
  });

  it('reports not ready while the broker is down, then resumes where it stopped, losing nothing', async () => {
    await brokerScript('reset', OUTAGE_PORT);
    const brokers = await brokerScript('start', OUTAGE_PORT);
    const kafka = kafkaFor(brokers);
    const admin = kafka.admin();
    await admin.connect();
    const input = uniqueName('outage-in');
    const alerts = uniqueName('outage-alerts');
    await createTopic(admin, input, 2);
    await admin.disconnect();

    const before = ['o1', 'o2', 'o3'];
    const after = ['o4', 'o5', 'o6'];
    await produceLines(kafka, input, before.flatMap((a) => attack(a, 0)));
    daemon = spawnDaemon(daemonEnv(brokers, { input, alerts }, { FRAUDWATCH_LATENESS: '0s' }));
    const port = await daemon.port;
    await readTopic(kafka, alerts, (m) => m.length >= 3, 60_000);
    expect((await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 200)).status).toBe(200);

    await brokerScript('stop', OUTAGE_PORT);
    const down = await eventually(() => httpGet(port, '/readyz'), (r) => r.status === 503, 40_000);
    expect(down.status).toBe(503);
    expect((await httpGet(port, '/healthz')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    expect(daemon.proc.exitCode).toBeNull(); // still running through the outage

    await brokerScript('start', OUTAGE_PORT);
    await produceLines(kafka, input, after.flatMap((a) => attack(a, 3_600_000)));
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
