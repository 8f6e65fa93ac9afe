import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse, type Backtest } from '../src/backtest/analyse.js';
import { formatBacktest } from '../src/backtest/format.js';
import { parseLabels } from '../src/backtest/labels.js';
import { renderReport } from '../src/backtest/report.js';
import { runBacktest } from '../src/backtest/run.js';
import { DETECTOR_IDS } from '../src/detectors/registry.js';
import { at, byTime, DAY, HOUR, login, MIN, rules, testLocator, type RawEvent } from './helpers.js';


/** Data that would run as script if the report forgot to escape it. */
const HOSTILE = `acct-<script>document.title='pwned'</script>&"x"`;
const HOME = '198.51.100.1';

const fails = (account: string, n: number, start: number, ip = HOME): RawEvent[] =>
  Array.from({ length: n }, (_, i) => login(account, start + i * 20_000, ip, false));

/**
 * A small log over five days with something for every section of the report:
 *  day 0  acct-1: 12 failures            → brute_force in A (threshold 10) and B (threshold 5)
 *  day 1  acct-2: 7 failures             → brute_force only in B
 *  day 2  HOSTILE: 10 failures           → brute_force on a trap that wants it quiet
 *  day 3  acct-w: London, then New York  → impossible_travel in both
 *  day 4  25 accounts fail from one IP   → credential_stuffing (an IP key)
 */
function events(): RawEvent[] {
  return byTime([
    ...fails('acct-1', 12, 0),
    ...fails('acct-2', 7, DAY),
    ...fails(HOSTILE, 10, 2 * DAY),
    login('acct-w', 3 * DAY, HOME),
    login('acct-w', 3 * DAY + 10 * MIN, '203.0.113.1'),
    ...Array.from({ length: 25 }, (_, i) => login(`victim-${i}`, 4 * DAY + i * 5_000, '198.51.100.5', false)),
  ]);
}

const LABELS = JSON.stringify({
  version: 1,
  incidents: [
    { id: 'inc-1', class: 'burst', detector: 'brute_force', key: { accountId: 'acct-1' }, start: at(0), end: at(4 * MIN) },
    { id: 'inc-2', class: 'burst', detector: 'brute_force', key: { accountId: 'acct-2' }, start: at(DAY), end: at(DAY + 3 * MIN) },
    { id: 'inc-3', class: 'login_travel', detector: 'impossible_travel', key: { accountId: 'acct-w' }, start: at(3 * DAY), end: at(3 * DAY + 10 * MIN) },
    { id: 'inc-4', class: 'network', detector: 'credential_stuffing', key: { ip: '198.51.100.0/24' }, start: at(4 * DAY), end: at(4 * DAY + 3 * MIN) },
    { id: 'inc-5', class: 'never <i>seen</i>', detector: 'geo_surge', key: { accountId: 'acct-9' }, start: at(DAY), end: at(DAY + HOUR), description: 'never <b>found</b>' },
  ],
  traps: [{ id: 'trap-1', class: 'mistyper', key: { accountId: HOSTILE }, start: at(2 * DAY), end: at(2 * DAY + HOUR), quietDetectors: ['brute_force'] }],
});

let bt: Backtest;
let html: string;
const dir = mkdtempSync(join(tmpdir(), 'fw-report-'));
const reportPath = join(dir, 'report.html');

beforeAll(async () => {
  const log = join(dir, 'events.jsonl');
  writeFileSync(log, events().map((e) => JSON.stringify(e)).join('\n') + '\n');
  const A = rules({ detectors: { brute_force: { threshold: 10 } } });
  const B = rules({ detectors: { brute_force: { threshold: 5 } } });
  const sides = await runBacktest({ path: log, rules: [A, B], locator: testLocator() });
  bt = analyse('events.jsonl', sides, parseLabels(LABELS, 'labels.json'), HOUR);
  html = renderReport(bt, { examples: 3 });
  writeFileSync(reportPath, html);
});

/** The markup of one section, from its opening tag to its closing tag. */
function section(doc: string, id: string): string {
  const start = doc.indexOf(`<section id="${id}"`);
  expect(start, `section #${id}`).toBeGreaterThanOrEqual(0);
  return doc.slice(start, doc.indexOf('</section>', start));
}

const count = (text: string, needle: string | RegExp) => (typeof needle === 'string' ? text.split(needle).length - 1 : (text.match(new RegExp(needle, 'g')) ?? []).length);

describe('backtest report (HTML text)', () => {
  it('is one self-contained file: no script, no external resource', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/<link /i);
    expect(html).toContain('<style>');
  });

  it('escapes everything that comes from data', () => {
    expect(html).toContain('acct-&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&amp;&quot;x&quot;');
    expect(html).toContain('never &lt;b&gt;found&lt;/b&gt;');
    expect(html).not.toContain('<b>found</b>');
    expect(section(html, 'classes')).toContain('<td>never &lt;i&gt;seen&lt;/i&gt;</td>');
    expect(html).not.toContain('<i>seen</i>');
  });

  it('is deterministic: the same backtest renders the same bytes', () => {
    expect(renderReport(bt, { examples: 3 })).toBe(html);
  });

  it('has the scoring the log was built to produce', () => {
    // Hand count: A finds inc-1, inc-3, inc-4 (not inc-2: 7 failures < 10; not inc-5: nothing
    // there), B also finds inc-2 → recall A 3/5, B 4/5.
    expect(bt.sides.map((s) => [s.score!.overall.detected, s.score!.overall.incidents])).toEqual([
      [3, 5],
      [4, 5],
    ]);
    expect(bt.diff!.total).toMatchObject({ onlyA: 2, onlyB: 3 });
  });

  it('has recall per incident class and violations per trap class, for A and B, and the change', () => {
    // Hand count, classes in registry order of their detector: login_travel (impossible_travel)
    // 1/1 on both sides; "never <i>seen</i>" (geo_surge) 0/1; burst (brute_force) A 1/2 with one
    // alert (acct-1's 10th failure; acct-2 has 7), B 2/2 with two (each account's 5th failure);
    // network (credential_stuffing) 1/1, the address alert inside the labelled /24.
    // The mistyper trap (HOSTILE: 10 failures) is violated by one brute_force alert on each side.
    // Precision is the detector's: brute_force A 1 of 2 alerts on an incident (the other is the
    // mistyper's), B 2 of 3; geo_surge raised nothing.
    const s = section(html, 'classes');
    expect(s).toContain('<h2>Detection by class</h2>');
    expect(count(s, '<table class="data class-table"')).toBe(2);
    expect(count(s, '<table class="data trap-class-table"')).toBe(2);
    expect(count(s, '<table class="data class-change-table"')).toBe(1);
    // Benign accounts paged at high, per side: a row per detector and "any" (these labels give no population).
    expect(count(s, '<table class="data benign-table"')).toBe(2);
    expect(s).toMatch(/<tr class="total"><td>any<\/td><td class="n">\d+<\/td><td class="n">—<\/td><\/tr>/);
    const rows = (cls: string) => [...s.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]!).filter((r) => r.startsWith(`<td>${cls}</td>`));
    const cells = (row: string) => [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
    expect(rows('burst').map(cells)).toEqual([
      ['burst', 'brute_force', '2', '1', '50.0%', '1', '1', '50.0%'],
      ['burst', 'brute_force', '2', '2', '100.0%', '2', '2', '66.7%'],
      ['burst', 'brute_force', '2', '50.0%', '100.0%', '+50.0 pp', '1', '2'],
    ]);
    expect(rows('login_travel').map(cells)[2]).toEqual(['login_travel', 'impossible_travel', '1', '100.0%', '100.0%', '0.0 pp', '1', '1']);
    expect(rows('never &lt;i&gt;seen&lt;/i&gt;').map(cells)[0]).toEqual(['never &lt;i&gt;seen&lt;/i&gt;', 'geo_surge', '1', '0', '0.0%', '0', '0', 'n/a']);
    expect(rows('network').map(cells)[0]).toEqual(['network', 'credential_stuffing', '1', '1', '100.0%', '1', '1', '100.0%']);
    expect(rows('mistyper').map(cells)).toEqual([
      ['mistyper', '1', '1', '1'],
      ['mistyper', '1', '1', '1'],
    ]);
    // The gain is marked as one, in green.
    expect(s).toContain('<td class="n pos">+50.0 pp</td>');
    // Class order: registry order of the detectors.
    const order = [...s.split('<table class="data class-table" data-side="A"')[1]!.split('</table>')[0]!.matchAll(/<tr><td>(.*?)<\/td>/g)].map((m) => m[1]);
    expect(order).toEqual(['login_travel', 'never &lt;i&gt;seen&lt;/i&gt;', 'burst', 'network']);
    expect(html).toContain('<a href="#classes">Detection by class</a>');
  });

  it('leaves the class section out without labels, and the incident-class tables out when no incident has a class', () => {
    const plain = analyse('events.jsonl', bt.sides.map((s) => s.side), undefined, HOUR);
    expect(renderReport(plain, { examples: 3 })).not.toContain('<section id="classes"');
    const classless = JSON.parse(LABELS) as { incidents: Record<string, unknown>[] };
    for (const inc of classless.incidents) delete inc.class;
    const noClass = renderReport(analyse('events.jsonl', bt.sides.map((s) => s.side), parseLabels(JSON.stringify(classless), 'labels.json'), HOUR), { examples: 3 });
    const s = section(noClass, 'classes');
    expect(s).not.toContain('<table class="data class-table"');
    expect(s).not.toContain('class-change-table');
    expect(count(s, '<table class="data trap-class-table"')).toBe(2);
  });

  it('shows durations, distances and speeds as people write them, in the report and the terminal tables', () => {
    // acct-1's tenth failure comes 9 × 20 s after its first; acct-w is in New York 10 minutes
    // after London (5,570 km less 20 km of accuracy at each end).
    expect(html).toContain('10 failed logins on account acct-1 within 3m (threshold 10 in 10m)');
    expect(html).toMatch(/10m later: 5,530 km apart after allowing for both locations&#39; accuracy, an implied 33,18\d km\/h against a limit of 900 km\/h/);
    expect(html).not.toMatch(/\d{4,}ms/);
    const slack = analyse('events.jsonl', bt.sides.map((s) => s.side), parseLabels(LABELS, 'labels.json'), 90 * MIN);
    expect(renderReport(slack, { examples: 3 })).toContain('match slack 1h30m');
    expect(formatBacktest(slack, { examples: 3 })).toContain('match slack 1h30m');
    expect(formatBacktest(slack, { examples: 3 })).toContain('within 3m (threshold 10 in 10m)');
  });
});

function findChromium(): string | undefined {
  const explicit = process.env.FRAUDWATCH_CHROMIUM;
  if (explicit) return explicit;
  for (const dirName of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      const p = join(dirName, name);
      if (dirName && existsSync(p)) return p;
    }
  }
  return undefined;
}

const chromium = findChromium();
const requireChromium = process.env.FRAUDWATCH_REQUIRE_CHROMIUM === '1';
if (!chromium && !requireChromium) {
  console.warn(
    '\n*** SKIPPED: backtest report rendering tests: no chromium binary on PATH (apt-get install -y chromium; set FRAUDWATCH_REQUIRE_CHROMIUM=1 to make this a failure) ***\n',
  );
}

/** Headless Chromium with nothing that could reach the network or a shared profile. */
function chrome(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const profile = mkdtempSync(join(tmpdir(), 'fw-chromium-'));
  const r = spawnSync(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      ...args,
      pathToFileURL(reportPath).href,
    ],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}

describe.runIf(chromium !== undefined || requireChromium)('backtest report (rendered in headless Chromium)', () => {
  let dom = '';

  beforeAll(() => {
    if (!chromium) throw new Error('FRAUDWATCH_REQUIRE_CHROMIUM=1 but no chromium binary was found on PATH (apt-get install -y chromium)');
    const r = chrome(['--dump-dom']);
    dom = r.stdout;
    if (!dom.includes('</html>')) throw new Error(`chromium --dump-dom gave no document (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  }, 120_000);

  it('keeps data as text: the hostile account id did not run', () => {
    expect(dom).toMatch(/<title>fraudwatch backtest: events\.jsonl<\/title>/);
    expect(dom).not.toContain('pwned</title>');
    expect(dom).toContain('acct-&lt;script&gt;');
  });

  it('draws alerts over time: one chart per rule set, a bar series per detector that alerted', () => {
    const s = section(dom, 'alerts-over-time');
    const charts = s.split('<figure class="chart"').slice(1);
    expect(charts).toHaveLength(2);
    for (const c of charts) {
      expect(count(c, '<svg')).toBe(1);
      // brute_force, credential_stuffing and impossible_travel alerted (in A and in B).
      for (const d of ['impossible_travel', 'brute_force', 'credential_stuffing']) {
        expect(c).toMatch(new RegExp(`<g class="series" data-detector="${d}"[^>]*><rect class="bar"`));
      }
      expect(count(c, '<rect class="bar"')).toBeGreaterThanOrEqual(4);
      expect(count(c, /<li data-detector="/)).toBe(3); // the legend
    }
  });

  it('draws precision and recall bars for A and B', () => {
    const s = section(dom, 'precision-recall');
    expect(count(s, '<svg')).toBe(1);
    for (const side of ['A', 'B']) {
      for (const metric of ['precision', 'recall']) {
        expect(s).toMatch(new RegExp(`<rect class="bar" data-side="${side}" data-metric="${metric}" data-detector="overall \\(micro\\)"`));
      }
      // brute_force recall: A 1/2 (inc-2 missed), B 2/2.
    }
    expect(s).toMatch(/data-side="A" data-metric="recall" data-detector="brute_force"[^>]*><title>A brute_force recall: 50\.0% \(1\/2\)<\/title>/);
    expect(s).toMatch(/data-side="B" data-metric="recall" data-detector="brute_force"[^>]*><title>B brute_force recall: 100\.0% \(2\/2\)<\/title>/);
  });

  it('has the terminal tables, the top keys and both rule sets', () => {
    const summary = section(dom, 'summary');
    expect(count(summary, '<table class="data stats-table"')).toBe(2);
    for (const d of [...DETECTOR_IDS, 'total']) expect(count(summary, `<td>${d}</td>`)).toBe(2);
    const scores = section(dom, 'scores');
    for (const d of [...DETECTOR_IDS, 'overall (micro)']) expect(count(scores, `<td>${d}</td>`)).toBe(2);
    const classes = section(dom, 'classes');
    // burst: in A's and B's class tables and in the change table.
    expect(count(classes, '<td>burst</td>')).toBe(3);
    expect(count(classes, '<td>mistyper</td>')).toBe(2);

    const keys = section(dom, 'top-keys');
    expect(count(keys, '<table')).toBe(1);
    expect(keys).toContain('acct-1');
    expect(keys).toContain('198.51.100.5');
    expect(count(keys, /<tr><td class="n">\d+<\/td>/)).toBeGreaterThanOrEqual(4);

    const rulesA = /<div id="rules-a"[^>]*>[\s\S]*?<\/pre>/.exec(dom)?.[0] ?? '';
    const rulesB = /<div id="rules-b"[^>]*>[\s\S]*?<\/pre>/.exec(dom)?.[0] ?? '';
    expect(rulesA).toMatch(/<pre class="yaml"># rulesVersion: [0-9a-f]{12}/);
    expect(rulesA).toMatch(/threshold: 10<\/span>/); // the changed line is highlighted
    expect(rulesB).toMatch(/threshold: 5<\/span>/);

    expect(section(dom, 'missed')).toContain('inc-5');
    expect(section(dom, 'traps')).toContain('trap-1');
    expect(section(dom, 'diff')).toContain('detectors.brute_force.threshold');
  });

  it('renders a screenshot of a real page', () => {
    const png = join(dir, 'report.png');
    const r = chrome([`--screenshot=${png}`, '--window-size=1280,2000']);
    expect(existsSync(png), r.stderr.slice(-2000)).toBe(true);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1280, 2000]); // IHDR width, height
    // A blank 1280×2000 page compresses to a few kB; tables, charts and text do not.
    expect(statSync(png).size).toBeGreaterThan(60_000);
  }, 120_000);
});
