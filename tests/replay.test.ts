import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../src/alerts/alert.js';
import { loadRulesFile } from '../src/config/rules.js';
import { generateToDir, type LabelsFile } from '../src/generate/generator.js';
import { GeoipLiteLocator } from '../src/geo/locator.js';
import { replayLog } from '../src/io/replay.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';
import { checkAgainstLabels } from './labelsCheck.js';

const locator = new GeoipLiteLocator();
const rules = loadRulesFile('rules/default.yaml');

async function replay(path: string, latenessMs?: number): Promise<{ alerts: Alert[]; text: string }> {
  const alerts: Alert[] = [];
  await replayLog({ path, rules, locator, latenessMs, onAlert: (a) => alerts.push(a) });
  return { alerts, text: alerts.map((a) => JSON.stringify(a) + '\n').join('') };
}

describe('replay of the demo fixture', () => {
  const labels = JSON.parse(readFileSync('fixtures/demo/labels.json', 'utf8')) as LabelsFile;

  it('catches every labelled incident, keeps every trap quiet, and raises nothing unexplained', async () => {
    const { alerts } = await replay('fixtures/demo/events.jsonl');
    const check = checkAgainstLabels(alerts, labels);
    expect(check).toEqual({ missed: [], trapViolations: [], unexplained: [] });
    // The demo has an incident of every detector, so every detector fires.
    expect(new Set(alerts.map((a) => a.detector))).toEqual(new Set(DETECTOR_IDS));
    expect(new Set(labels.incidents.map((i) => i.detector))).toEqual(new Set(DETECTOR_IDS));
  });

  it('matches the reviewed golden alerts byte for byte (regenerate with `npm run demo:golden` after a deliberate change)', async () => {
    const { text } = await replay('fixtures/demo/events.jsonl');
    expect(text).toBe(readFileSync('fixtures/demo/expected-alerts.jsonl', 'utf8'));
  });

  it('gives the same bytes eagerly (lateness 0) as with the default lateness when the log is sorted enough', async () => {
    // The demo's disorder is under 10 s: any lateness of at least that gives identical alerts.
    const a = await replay('fixtures/demo/events.jsonl', 10_000);
    const b = await replay('fixtures/demo/events.jsonl', 120_000);
    expect(b.text).toBe(a.text);
  });
});

describe('replay of a larger generated log', () => {
  it('fires on every injected incident and stays quiet on the traps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-gen-'));
    await generateToDir({ seed: 11, accounts: 400, days: 21 }, dir);
    const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as LabelsFile;
    const first = await replay(join(dir, 'events.jsonl'));
    const check = checkAgainstLabels(first.alerts, labels);
    expect(check.missed).toEqual([]);
    expect(check.trapViolations).toEqual([]);
    expect(check.unexplained).toEqual([]);
    expect(labels.incidents.length).toBeGreaterThanOrEqual(20);
    const second = await replay(join(dir, 'events.jsonl'));
    expect(second.text).toBe(first.text);
  }, 120_000);
});
