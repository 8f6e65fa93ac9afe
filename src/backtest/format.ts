import type { Alert } from '../alerts/alert.js';
import { SEVERITY_RANK } from '../detectors/types.js';
import { humanDuration } from '../format/human.js';
import { describeGeo, type GeoPoint } from '../geo/locator.js';
import type { Backtest, SideResult } from './analyse.js';
import { FAR_KM, type GeoComparison } from './geo.js';
import { labelKeyKind, labelKeyText, type LabelIncident } from './labels.js';
import { loginRiskRocTable, loginRiskTable } from './loginRisk.js';
import type { DetectorRow } from './run.js';
import type { ClassScore, DetectorScore, UnexplainedAlert } from './score.js';

/** Shared by the terminal output and the HTML report, so the two always show the same numbers. */
export const num = new Intl.NumberFormat('en-US');

export function pct(x: number | null): string {
  return x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`;
}

/** Change in percentage points, signed; n/a when either side has no value. */
export function deltaPp(a: number | null, b: number | null): string {
  if (a === null || b === null) return 'n/a';
  const d = (b - a) * 100;
  if (Math.abs(d) < 0.05) return '0.0 pp';
  return `${d > 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} pp`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function alertKeyText(a: Alert): string {
  return a.accountId !== undefined ? `account ${a.accountId}` : `ip ${a.ip}`;
}

/** Evidence on one line, cut to `max` characters: enough to see why, short enough to scan. */
export function evidenceText(a: Alert, max = 300): string {
  const s = JSON.stringify(a.evidence);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The most telling unexplained alerts of each detector: highest severity first, then earliest. */
export function unexplainedExamples(list: readonly UnexplainedAlert[], perDetector: number): Map<string, { shown: UnexplainedAlert[]; total: number }> {
  const out = new Map<string, { shown: UnexplainedAlert[]; total: number }>();
  for (const u of list) {
    let g = out.get(u.alert.detector);
    if (!g) out.set(u.alert.detector, (g = { shown: [], total: 0 }));
    g.shown.push(u);
    g.total++;
  }
  for (const g of out.values()) {
    g.shown = g.shown
      .map((u, i) => ({ u, i }))
      .sort((x, y) => SEVERITY_RANK[y.u.alert.severity] - SEVERITY_RANK[x.u.alert.severity] || x.i - y.i)
      .slice(0, perDetector)
      .map((x) => x.u);
  }
  return out;
}

/** Unexplained alerts a trap's `mayAlsoFire` expects: benign, but by the detector's own rule. */
export function allowedByTrap(list: readonly UnexplainedAlert[]): number {
  return list.filter((u) => u.traps.some((t) => t.role === 'mayAlsoFire')).length;
}

export function trapNote(u: UnexplainedAlert): string {
  return u.traps
    .map(({ trap, role }) => `${role === 'quiet' ? 'violates' : role === 'mayAlsoFire' ? 'allowed by' : 'inside'} ${trap.id} (${trap.class})`)
    .join('; ');
}

export function incidentKeyText(inc: LabelIncident): string {
  return `${labelKeyKind(inc.key) === 'account' ? 'account' : 'ip'} ${labelKeyText(inc.key)}`;
}

interface Col {
  readonly header: string;
  readonly right?: boolean;
}

/** A plain text table: left-aligned names, right-aligned numbers, two spaces between columns. */
function table(cols: readonly Col[], rows: readonly (readonly string[])[], indent = '  '): string {
  const widths = cols.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    (indent + cells.map((cell, i) => (cols[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')).trimEnd();
  return [line(cols.map((c) => c.header)), ...rows.map(line)].join('\n');
}

function statsCells(r: DetectorRow): string[] {
  if (!r.enabled) return [r.detector, '-', '-', '-', '-', '-', '-', 'disabled'];
  return [
    r.detector,
    num.format(r.alerts),
    num.format(r.keys),
    r.per10k.toFixed(2),
    num.format(r.suppressedCooldown),
    num.format(r.suppressedAllowlist),
    num.format(r.shadow),
    r.shadowMode ? 'shadow mode' : '',
  ];
}

export const STATS_COLUMNS: readonly Col[] = [
  { header: 'detector' },
  { header: 'alerts', right: true },
  { header: 'keys', right: true },
  { header: 'per 10k', right: true },
  { header: 'cooldown', right: true },
  { header: 'allowlist', right: true },
  { header: 'shadow', right: true },
  { header: '' },
];

export function statsTable(s: SideResult): { cols: readonly Col[]; rows: string[][] } {
  return { cols: STATS_COLUMNS, rows: [...s.rows.map(statsCells), statsCells(s.total)] };
}

export const SCORE_COLUMNS: readonly Col[] = [
  { header: 'detector' },
  { header: 'incidents', right: true },
  { header: 'detected', right: true },
  { header: 'recall', right: true },
  { header: 'alerts', right: true },
  { header: 'matched', right: true },
  { header: 'precision', right: true },
  { header: 'trap alerts', right: true },
  { header: 'alerts/incident (median, mean, max)', right: true },
];

function scoreCells(s: DetectorScore, name = s.detector): string[] {
  const p = s.alertsPerIncident;
  const pages = p === null ? '—' : `${num.format(p.median)}, ${p.mean.toFixed(2)}, ${num.format(p.max)}`;
  return [name, num.format(s.incidents), num.format(s.detected), pct(s.recall), num.format(s.alerts), num.format(s.matched), pct(s.precision), num.format(s.trapViolations), pages];
}

export function scoreTable(s: SideResult): { cols: readonly Col[]; rows: string[][] } {
  const score = s.score!;
  return { cols: SCORE_COLUMNS, rows: [...score.perDetector.map((d) => scoreCells(d)), scoreCells(score.overall, 'overall (micro)')] };
}

export const CLASS_COLUMNS: readonly Col[] = [
  { header: 'class' },
  { header: 'detector' },
  { header: 'incidents', right: true },
  { header: 'detected', right: true },
  { header: 'recall', right: true },
  { header: 'alerts', right: true },
  { header: 'by detector', right: true },
  { header: 'precision (detector)', right: true },
];

/**
 * Recall per incident class (labels with classes only): incidents, detected by their own
 * detector, recall, and the alerts matching the class's incidents (all, and those of its
 * detector). Precision is its detector's: an alert belongs to a detector, not to a class.
 */
export function classTable(s: SideResult): { cols: readonly Col[]; rows: string[][] } {
  const precision = new Map(s.score!.perDetector.map((d) => [d.detector, d.precision]));
  const rows = s.score!.perClass!.map((c) => [
    c.class,
    c.detectors.join(', '),
    num.format(c.incidents),
    num.format(c.detected),
    pct(c.recall),
    num.format(c.alerts),
    num.format(c.ownAlerts),
    c.detectors.length === 1 ? pct(precision.get(c.detectors[0]!) ?? null) : '—',
  ]);
  return { cols: CLASS_COLUMNS, rows };
}

export const BENIGN_HIGH_COLUMNS: readonly Col[] = [
  { header: 'detector' },
  { header: 'benign accounts with a high alert', right: true },
  { header: 'rate', right: true },
];

/** Per detector (and any): benign accounts paged at high or critical, and their share of the benign accounts. */
export function benignHighTable(s: SideResult): { cols: readonly Col[]; rows: string[][] } {
  const rows = s.score!.benignHigh.map((b) => [b.detector, num.format(b.accounts), b.rate === null ? '—' : `${(b.rate * 100).toFixed(2)}%`]);
  return { cols: BENIGN_HIGH_COLUMNS, rows };
}

export const TRAP_CLASS_COLUMNS: readonly Col[] = [
  { header: 'trap class' },
  { header: 'traps', right: true },
  { header: 'violated', right: true },
  { header: 'alerts', right: true },
];

/** Per trap class: traps, traps with an alert of a detector they list as quiet, and those alerts. */
export function trapClassTable(s: SideResult): { cols: readonly Col[]; rows: string[][] } {
  return { cols: TRAP_CLASS_COLUMNS, rows: s.score!.perTrapClass.map((c) => [c.class, num.format(c.traps), num.format(c.violated), num.format(c.alerts)]) };
}

/** The A → B table per incident class: recall on each side and its change, and the matching alerts. */
export function classChangeTable(bt: Backtest): { cols: readonly Col[]; rows: string[][] } {
  const [a, b] = bt.sides as [SideResult, SideResult];
  const cols: Col[] = [{ header: 'class' }, { header: 'detector' }, { header: 'incidents', right: true }];
  for (const h of ['recall A', 'recall B', 'Δ recall', 'alerts A', 'alerts B']) cols.push({ header: h, right: true });
  // Both sides score the same labels, so their classes are the same and in the same order.
  const byClass = new Map<string, ClassScore>(b.score!.perClass!.map((c) => [c.class, c]));
  const rows = a.score!.perClass!.map((ca) => {
    const cb = byClass.get(ca.class)!;
    return [ca.class, ca.detectors.join(', '), num.format(ca.incidents), pct(ca.recall), pct(cb.recall), deltaPp(ca.recall, cb.recall), num.format(ca.alerts), num.format(cb.alerts)];
  });
  return { cols, rows };
}

/** The A → B table: precision and recall change (with labels) and the alert diff. */
export function changeTable(bt: Backtest): { cols: readonly Col[]; rows: string[][] } {
  const [a, b] = bt.sides as [SideResult, SideResult];
  const diff = bt.diff!;
  const labelled = a.score !== undefined && b.score !== undefined;
  const cols: Col[] = [{ header: 'detector' }];
  if (labelled) {
    for (const h of ['precision A', 'precision B', 'Δ precision', 'recall A', 'recall B', 'Δ recall']) cols.push({ header: h, right: true });
  }
  for (const h of ['only A', 'only B', 'both']) cols.push({ header: h, right: true });
  const rows: string[][] = [];
  const add = (name: string, sa: DetectorScore | undefined, sb: DetectorScore | undefined, d: { onlyA: number; onlyB: number; both: number }) => {
    const cells = [name];
    if (labelled) cells.push(pct(sa!.precision), pct(sb!.precision), deltaPp(sa!.precision, sb!.precision), pct(sa!.recall), pct(sb!.recall), deltaPp(sa!.recall, sb!.recall));
    cells.push(num.format(d.onlyA), num.format(d.onlyB), num.format(d.both));
    rows.push(cells);
  };
  diff.perDetector.forEach((d, i) => add(d.detector, a.score?.perDetector[i], b.score?.perDetector[i], d));
  add(labelled ? 'overall (micro)' : 'total', a.score?.overall, b.score?.overall, diff.total);
  return { cols, rows };
}

/** The address-level comparison of two databases: counts and their share of the log's addresses. */
export function geoTable(g: GeoComparison): { cols: readonly Col[]; rows: string[][] } {
  const share = (n: number) => (g.addresses > 0 ? pct(n / g.addresses) : 'n/a');
  const rows: [string, number][] = [
    ['placed by A', g.placedA],
    ['placed by B', g.placedB],
    ['placed by A only', g.onlyA],
    ['placed by B only', g.onlyB],
    ['another country', g.country],
    ['another city (or city-level on one side only)', g.city],
    ['city-level on one side, country-level on the other', g.cityLevelChanged],
    [`more than ${FAR_KM} km apart`, g.far],
  ];
  return { cols: [{ header: 'addresses' }, { header: 'count', right: true }, { header: 'share', right: true }], rows: rows.map(([k, n]) => [k, num.format(n), share(n)]) };
}

export const GEO_EXAMPLE_COLUMNS: readonly Col[] = [{ header: 'address' }, { header: 'A' }, { header: 'B' }, { header: 'km', right: true }];

export function placeText(p: GeoPoint | null): string {
  if (p === null) return 'not placed';
  return `${[p.city, p.region, p.country].filter(Boolean).join(', ')} ±${num.format(p.accuracyKm)} km`;
}

export function geoExampleCells(d: GeoComparison['examples'][number]): string[] {
  return [d.ip, placeText(d.a), placeText(d.b), d.km === null ? '-' : num.format(Math.round(d.km))];
}

/** Missed incidents listed in full up to this many; the report lists more. */
const MAX_MISSED = 50;
const MAX_VIOLATIONS = 20;

function missedSection(s: SideResult, title: string): string {
  const score = s.score!;
  const out = [`${title}: ${score.missed.length} of ${score.overall.incidents} incidents got no alert of their detector`];
  for (const m of score.missed.slice(0, MAX_MISSED)) {
    const inc = m.incident;
    out.push(`  ${inc.id}  ${inc.detector}  ${incidentKeyText(inc)}  ${iso(inc.start)} .. ${iso(inc.end)}`);
    if (inc.description) out.push(`      ${inc.description}`);
    const other = Object.entries(m.otherAlerts).map(([d, n]) => `${d} ${n}`);
    out.push(`      alerts from other detectors on it: ${other.length > 0 ? other.join(', ') : 'none'}`);
  }
  if (score.missed.length > MAX_MISSED) out.push(`  ... and ${score.missed.length - MAX_MISSED} more`);
  return out.join('\n');
}

function unexplainedSection(s: SideResult, title: string, examples: number): string {
  const score = s.score!;
  const total = score.overall.alerts;
  const allowed = allowedByTrap(score.unexplained);
  const note = allowed > 0 ? `; ${allowed} of them fall in a trap that says their detector may fire there` : '';
  const out = [`${title}: ${score.unexplained.length} of ${total} alerts match no incident${note} (up to ${examples} per detector, highest severity first)`];
  const groups = unexplainedExamples(score.unexplained, examples);
  for (const d of s.rows.map((r) => r.detector)) {
    const g = groups.get(d);
    if (!g) continue;
    out.push(`  ${d} (${g.total} unexplained)`);
    for (const u of g.shown) {
      const a = u.alert;
      const note = trapNote(u);
      out.push(`    ${a.ts}  ${alertKeyText(a)}  ${a.severity}${a.shadow ? '  shadow' : ''}${note ? `  [${note}]` : ''}`);
      out.push(`      ${a.summary}`);
      out.push(`      evidence: ${evidenceText(a)}`);
    }
  }
  return out.join('\n');
}

function violationsSection(s: SideResult, title: string): string {
  const v = s.score!.violations;
  const out = [`${title}: ${s.score!.overall.trapViolations} alerts on traps that list their detector as quiet`];
  for (const x of v.slice(0, MAX_VIOLATIONS)) {
    out.push(`  ${x.trap.id}  ${x.trap.class}  ${labelKeyKind(x.trap.key) === 'account' ? 'account' : 'ip'} ${labelKeyText(x.trap.key)}  ${x.detector} ${x.alerts}`);
    if (x.trap.description) out.push(`      ${x.trap.description}`);
  }
  if (v.length > MAX_VIOLATIONS) out.push(`  ... and ${v.length - MAX_VIOLATIONS} more`);
  return out.join('\n');
}

/**
 * The whole terminal report. Counts only, no clock: the same log, rules and labels give the
 * same bytes (the caller prints timing separately, on stderr).
 */
export function formatBacktest(bt: Backtest, opts: { examples: number }): string {
  const first = bt.sides[0]!;
  const st = first.side.stats;
  const compare = bt.sides.length > 1;
  const head = [
    `fraudwatch backtest: ${bt.events}`,
    `  events  ${num.format(st.processed)} scored from ${num.format(first.side.lines)} lines (${num.format(st.invalidTotal)} invalid, ${num.format(st.duplicates)} duplicates, ${num.format(st.late)} late)`,
    ...bt.sides.flatMap((s) => [`  ${s.side.name}       ${s.label}`, `          geo ${describeGeo(s.side.rules.geo)}`]),
  ];
  if (bt.labels) {
    head.push(`  labels  ${bt.labels.source}: ${num.format(bt.labels.incidents.length)} incidents, ${num.format(bt.labels.traps.length)} traps; match slack ${humanDuration(bt.slackMs)}`);
  }
  if (bt.settings) {
    head.push(`  changed ${bt.settings.length === 0 ? 'nothing (A and B have the same effective rules)' : `${bt.settings.length} setting(s), A → B:`}`);
    for (const c of bt.settings) head.push(`    ${c.path}: ${c.a ?? '(absent)'} → ${c.b ?? '(absent)'}`);
  }
  const sections = [head.join('\n')];
  const name = (s: SideResult) => (compare ? ` (${s.side.name})` : '');

  for (const s of bt.sides) {
    const t = statsTable(s);
    sections.push(`Alerts by detector${name(s)}\n${table(t.cols, t.rows)}`);
  }
  const classified = bt.sides[0]!.score?.perClass !== undefined;
  if (bt.labels) {
    for (const s of bt.sides) {
      const t = scoreTable(s);
      sections.push(`Detection against labels${name(s)}\n${table(t.cols, t.rows)}`);
    }
    for (const s of bt.sides) {
      if (classified) {
        const t = classTable(s);
        sections.push(`Detection by incident class${name(s)}\n${table(t.cols, t.rows)}`);
      }
      if (s.score!.perTrapClass.length > 0) {
        const t = trapClassTable(s);
        sections.push(`Traps by class${name(s)}\n${table(t.cols, t.rows)}`);
      }
      const b = benignHighTable(s);
      const of = s.score!.benignAccounts === null ? 'population unknown: the labels give no "accounts"' : `of ${num.format(s.score!.benignAccounts)} benign accounts`;
      sections.push(`Benign accounts with a high or critical alert${name(s)} (${of})\n${table(b.cols, b.rows)}`);
    }
  }
  for (const r of bt.loginRisk ?? []) {
    const t = loginRiskTable(r);
    const roc = loginRiskRocTable(r);
    sections.push(`login_risk scores by class${compare ? ` (${r.side})` : ''}: every judged login\n${table(t.cols, t.rows)}\n\nlogin_risk ROC points\n${table(roc.cols, roc.rows)}`);
  }
  if (bt.geo) {
    const g = geoTable(bt.geo);
    sections.push(`Geolocation A → B: how the two databases place the log's ${num.format(bt.geo.addresses)} distinct addresses\n${table(g.cols, g.rows)}`);
    if (bt.geo.examples.length > 0) sections.push(`Largest differences\n${table(GEO_EXAMPLE_COLUMNS, bt.geo.examples.map(geoExampleCells))}`);
  }
  if (compare) {
    const t = changeTable(bt);
    sections.push(`Change A → B${bt.labels ? '' : ' (no labels: alert diff only)'}\n${table(t.cols, t.rows)}`);
    if (classified) {
      const c = classChangeTable(bt);
      sections.push(`Change A → B by incident class\n${table(c.cols, c.rows)}`);
    }
  }
  if (bt.labels) {
    for (const s of bt.sides) {
      sections.push(missedSection(s, `Missed incidents${name(s)}`));
      sections.push(violationsSection(s, `Trap violations${name(s)}`));
      sections.push(unexplainedSection(s, `Unexplained alerts${name(s)}`, opts.examples));
    }
  }
  return `${sections.join('\n\n')}\n`;
}
