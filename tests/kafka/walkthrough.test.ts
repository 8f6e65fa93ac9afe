import { execFileSync, execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/alert.js';
import { loadRulesFile } from '../../src/config/rules.js';
import { GeoipLiteLocator } from '../../src/geo/locator.js';
import { replayLog } from '../../src/io/replay.js';
import { createTopic, daemonEnv, eventually, kafkaFor, spawnDaemon, testBrokers, uniqueName } from './harness.js';

const brokers = await testBrokers();
const hasKcat = (() => {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (brokers && !hasKcat) {
  if (process.env.FRAUDWATCH_REQUIRE_KAFKA === '1') throw new Error('kcat is required for the README walkthrough test (apt-get install kcat)');
  console.warn('\n!!! SKIPPING the README walkthrough test: kcat is not installed (apt-get install kcat) !!!\n');
}

/** Runs a README line with the README's topic names and broker swapped for this test's. */
function sh(line: string, subst: Record<string, string>): string {
  let cmd = line;
  for (const [from, to] of Object.entries(subst)) cmd = cmd.split(from).join(to);
  return execSync(cmd, { shell: '/bin/bash', encoding: 'utf8', timeout: 60_000 });
}

describe.skipIf(!brokers || !hasKcat)('the README daemon walkthrough, with kcat', () => {
  const readme = readFileSync('README.md', 'utf8');
  const send = "kcat -P -b 127.0.0.1:9092 -t account-events -l fixtures/demo/events.jsonl";
  const readAlerts = "kcat -C -b 127.0.0.1:9092 -t fraud-alerts -e -f '%k %s\\n'";
  const readDead = "kcat -C -b 127.0.0.1:9092 -t account-events.dlq -e -f '%h\\n%s\\n\\n'";
  const sendKeyed = `jq -Rr 'fromjson? | [.accountId, tojson] | join("\\t")' fixtures/demo/events.jsonl | kcat -P -b 127.0.0.1:9092 -t account-events -K $'\\t'`;

  it('shows exactly the commands this test runs', () => {
    for (const line of [send, readAlerts, readDead, sendKeyed]) expect(readme).toContain(line);
  });

  it.each([
    ['one message per line', send, 1],
    ['keyed by account', sendKeyed, 3],
  ])('demo events sent with kcat (%s) give the replay alerts, read back with kcat', async (_name, sendLine, partitions) => {
    const input = uniqueName('walk-in');
    const alerts = uniqueName('walk-alerts');
    const admin = kafkaFor(brokers!).admin();
    await admin.connect();
    await createTopic(admin, input, partitions);
    await admin.disconnect();
    const subst = { '127.0.0.1:9092': brokers!, 'account-events.dlq': `${input}.dlq`, 'account-events': input, 'fraud-alerts': alerts };

    const replayed: Alert[] = [];
    await replayLog({ path: 'fixtures/demo/events.jsonl', rules: loadRulesFile('rules/default.yaml'), locator: new GeoipLiteLocator(), onAlert: (a) => replayed.push(a) });

    const d = spawnDaemon(daemonEnv(brokers!, { input, alerts }, { FRAUDWATCH_RULES: 'rules/default.yaml', FRAUDWATCH_LATENESS: '12s' }));
    await d.waitForLog(/joined consumer group/);
    sh(sendLine, subst);
    const lines = await eventually(
      async () => {
        try {
          return sh(readAlerts, subst).trim().split('\n').filter(Boolean);
        } catch {
          return [];
        }
      },
      (l) => l.length >= replayed.length,
      90_000,
      1000,
    );
    const got = lines.map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as Alert);
    expect(got.map((a) => a.alertId).sort()).toEqual(replayed.map((a) => a.alertId).sort());
    for (const l of lines) {
      const a = JSON.parse(l.slice(l.indexOf(' ') + 1)) as Alert;
      expect(l.slice(0, l.indexOf(' '))).toBe(a.accountId ?? a.ip);
    }
    if (sendLine === send) {
      const dead = sh(readDead, subst);
      expect(dead).toContain('fw-error-reason=');
      expect((dead.match(/fw-error-code=FW_INPUT_INVALID/g) ?? []).length).toBe(12);
    }
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
