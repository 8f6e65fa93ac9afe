import type { Alert } from '../alerts/alert.js';
import { effectiveYaml } from '../config/rules.js';
import { DETECTOR_IDS } from '../detectors/registry.js';
import { humanDuration } from '../format/human.js';
import { describeGeo } from '../geo/locator.js';
import type { Backtest, SideResult } from './analyse.js';
import { alertIdentity } from './diff.js';
import {
  alertKeyText,
  allowedByTrap,
  changeTable,
  classChangeTable,
  classTable,
  evidenceText,
  GEO_EXAMPLE_COLUMNS,
  geoExampleCells,
  geoTable,
  incidentKeyText,
  iso,
  num,
  pct,
  scoreTable,
  statsTable,
  trapClassTable,
  benignHighTable,
  trapNote,
  unexplainedExamples,
} from './format.js';
import { labelKeyKind, labelKeyText } from './labels.js';
import { loginRiskChart, loginRiskRocTable, loginRiskTable } from './loginRisk.js';
import { alertKey } from './run.js';
import type { DetectorScore } from './score.js';

/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, no network), so it
 * can be attached to a ticket or opened from an air-gapped analyst machine. No clock either:
 * the same inputs give the same bytes. Everything from data goes through `esc`.
 *
 * Stable hooks for tests and readers: #summary, #alerts-over-time svg, #precision-recall svg,
 * #scores, #classes table (.class-table, .trap-class-table, .class-change-table), #diff, #missed,
 * #traps, #unexplained, #top-keys table, #geo (providers compared), #rules-a, #rules-b.
 */

export interface ReportOptions {
  /** Unexplained alerts shown per detector. */
  readonly examples: number;
  /** Rows of the top-keys table. */
  readonly topKeys?: number;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** Tableau 10: distinguishable, colour-blind-aware; fixed per detector so every chart agrees. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#6b6b6b'];
const SIDE_COLOURS: Record<string, string> = { A: '#3867a6', B: '#e07b39' };

function colourOf(detector: string): string {
  const i = DETECTOR_IDS.indexOf(detector);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length]!;
}

const CSS = `
:root { --ink:#1d2330; --muted:#5b6474; --line:#dde1e7; --bg:#f4f6f9; --card:#fff; --accent:#3867a6; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1200px; margin:0 auto; padding:24px 28px 60px; }
header.top { background:#1f2a3c; color:#fff; padding:22px 28px; }
header.top .inner { max-width:1200px; margin:0 auto; }
header.top h1 { margin:0 0 6px; font-size:22px; font-weight:600; letter-spacing:.2px; }
header.top dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 16px; margin:10px 0 0; font-size:13px; }
header.top dt { color:#aab4c5; } header.top dd { margin:0; word-break:break-all; }
.kpis { display:flex; flex-wrap:wrap; gap:12px; margin:18px 0 4px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; flex:1 1 140px; }
.kpi .v { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; line-height:1.35; }
.kpi .v .tag { vertical-align:3px; }
.kpi .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
nav.toc { margin:14px 0 0; font-size:13px; } nav.toc a { color:var(--accent); margin-right:14px; text-decoration:none; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin:18px 0; }
h2 { margin:0 0 4px; font-size:18px; } h3 { margin:16px 0 6px; font-size:15px; }
p.note { margin:2px 0 12px; color:var(--muted); font-size:13px; }
table { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
table.stats-table, table.score-table, table.change-table, table.settings-diff, table.class-table, table.class-change-table { width:auto; min-width:640px; }
table.trap-class-table { width:auto; min-width:360px; margin-top:12px; }
th, td { padding:5px 9px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:#eef1f5; font-weight:600; white-space:nowrap; }
td.n, th.n { text-align:right; white-space:nowrap; }
tbody tr:nth-child(even) td { background:#fafbfc; }
tr.total td { font-weight:600; border-top:2px solid #c5ccd6; background:#f3f5f8 !important; }
td.muted, .muted { color:var(--muted); }
.nowrap { white-space:nowrap; }
pre.yaml .changed { background:#fff1c2; display:inline-block; width:100%; }
.pos { color:#1d7a3a; } .neg { color:#b3261e; }
.chip { display:inline-block; padding:0 7px; margin:1px 3px 1px 0; border-radius:9px; font-size:12px; background:#eef1f5; white-space:nowrap; }
.chip i { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:5px; vertical-align:0; }
.sev { font-size:11px; font-weight:600; text-transform:uppercase; padding:0 6px; border-radius:4px; }
.sev-low { background:#e7eef7; color:#2d5a8c; } .sev-medium { background:#fff2d6; color:#8a5a00; }
.sev-high { background:#fde3dc; color:#a2361c; } .sev-critical { background:#b3261e; color:#fff; }
figure.chart { margin:8px 0 18px; } figure.chart figcaption { font-weight:600; margin-bottom:4px; }
svg { display:block; width:100%; height:auto; font-family:inherit; }
svg .axis text, svg .tick text { fill:#5b6474; font-size:11px; }
svg .grid line { stroke:#e6e9ee; } svg .axis line, svg .axis path { stroke:#9aa3b1; }
ul.legend { list-style:none; margin:6px 0 0; padding:0; display:flex; flex-wrap:wrap; gap:4px 16px; font-size:12.5px; }
ul.legend li { white-space:nowrap; } ul.legend .sw { display:inline-block; width:14px; height:4px; border-radius:2px; margin-right:6px; vertical-align:middle; }
ul.legend .sw.box { height:12px; width:12px; }
ul.alerts { margin:0; padding-left:16px; font-size:12.5px; } ul.alerts li { margin:2px 0; }
.mono, pre, code { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
.evidence { color:var(--muted); word-break:break-all; }
.rules-grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:16px; }
pre.yaml { background:#f7f8fa; border:1px solid var(--line); border-radius:6px; padding:10px 12px; max-height:640px; overflow:auto; margin:0; }
details summary { cursor:pointer; color:var(--accent); font-size:12.5px; }
.tag { font-size:11px; font-weight:700; border-radius:3px; padding:0 4px; color:#fff; margin-right:4px; }
`;

function th(cols: readonly { header: string; right?: boolean }[]): string {
  return `<thead><tr>${cols.map((c) => `<th${c.right ? ' class="n"' : ''}>${esc(c.header)}</th>`).join('')}</tr></thead>`;
}

/** A data table from the same cells as the terminal table; the last row is a total when `total`. */
function dataTable(t: { cols: readonly { header: string; right?: boolean }[]; rows: string[][] }, cls: string, attrs = '', total = true): string {
  const body = t.rows
    .map((r, i) => {
      const tr = total && i === t.rows.length - 1 ? '<tr class="total">' : '<tr>';
      return `${tr}${r.map((c, j) => `<td${t.cols[j]!.right ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table class="${cls}"${attrs}>${th(t.cols)}<tbody>\n${body}\n</tbody></table>`;
}

function sideTag(name: string): string {
  return `<span class="tag" style="background:${SIDE_COLOURS[name] ?? '#666'}">${esc(name)}</span>`;
}

function sev(a: Alert): string {
  return `<span class="sev sev-${esc(a.severity)}">${esc(a.severity)}</span>`;
}

// ---------------------------------------------------------------- alerts over time

const DAY_MS = 86_400_000;

/** Nice round axis steps: 1, 2, 5 × 10^k. */
function niceStep(max: number, ticks: number): number {
  const raw = Math.max(max, 1) / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
  return 10 * p;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function dayLabel(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

interface Buckets {
  readonly start: number;
  readonly size: number;
  readonly count: number;
}

/** UTC days from the first to the last alert or label; weeks when that is more than 120 days. */
function buckets(bt: Backtest): Buckets | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of bt.sides) {
    for (const a of s.side.alerts) {
      const t = Date.parse(a.ts);
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
  }
  for (const l of [...(bt.labels?.incidents ?? []), ...(bt.labels?.traps ?? [])]) {
    if (l.start < lo) lo = l.start;
    if (l.end > hi) hi = l.end;
  }
  if (lo === Infinity) return undefined;
  const start = Math.floor(lo / DAY_MS) * DAY_MS;
  const days = Math.floor(hi / DAY_MS) - start / DAY_MS + 1;
  const size = days > 120 ? 7 * DAY_MS : DAY_MS;
  return { start, size, count: Math.ceil((days * DAY_MS) / size) };
}

/** Alerts per bucket and detector for one side. */
function bucketCounts(s: SideResult, b: Buckets, detectors: readonly string[]): Map<string, number[]> {
  const counts = new Map<string, number[]>(detectors.map((d) => [d, new Array<number>(b.count).fill(0)]));
  for (const a of s.side.alerts) {
    const i = Math.floor((Date.parse(a.ts) - b.start) / b.size);
    const c = counts.get(a.detector);
    if (c && i >= 0 && i < b.count) c[i]!++;
  }
  return counts;
}

/**
 * Stacked bars, one series per detector (bottom to top in registry order): sparse daily counts
 * read better as bars than as ten lines lying on the zero axis, and the stack shows the day's total.
 */
function timeChart(s: SideResult, b: Buckets, detectors: readonly string[], yMax: number): string {
  const W = 1120;
  const H = 300;
  const m = { l: 48, r: 12, t: 14, b: 36 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const step = niceStep(yMax, 5);
  const top = Math.max(step, Math.ceil(yMax / step) * step);
  const band = iw / b.count;
  // Capped: a week of data would otherwise draw slabs, not bars.
  const barW = Math.max(1, Math.min(band * 0.72, 36));
  const x = (i: number) => m.l + i * band + (band - barW) / 2;
  const y = (v: number) => m.t + ih - (v / top) * ih;
  const counts = bucketCounts(s, b, detectors);
  const unit = b.size === DAY_MS ? 'day' : 'week';

  const parts: string[] = [];
  parts.push('<g class="grid">');
  for (let v = 0; v <= top; v += step) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`);
  parts.push('</g><g class="axis y-axis">');
  for (let v = 0; v <= top; v += step) parts.push(`<text x="${m.l - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${num.format(v)}</text>`);
  parts.push(`<text x="12" y="${m.t + ih / 2}" transform="rotate(-90 12 ${m.t + ih / 2})" text-anchor="middle">alerts per ${unit}</text>`);
  parts.push('</g>');
  const base = new Array<number>(b.count).fill(0);
  for (const d of detectors) {
    const c = counts.get(d)!;
    if (c.every((v) => v === 0)) continue;
    const colour = colourOf(d);
    parts.push(`<g class="series" data-detector="${esc(d)}" fill="${colour}">`);
    c.forEach((v, i) => {
      if (v === 0) return;
      const y1 = y(base[i]! + v);
      const h = y(base[i]!) - y1;
      base[i]! += v;
      parts.push(
        `<rect class="bar" x="${x(i).toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(`${d}, ${unit} of ${dayLabel(b.start + i * b.size)}: ${v} alert(s)`)}</title></rect>`,
      );
    });
    parts.push('</g>');
  }
  parts.push('<g class="axis x-axis">');
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${m.t + ih}" y2="${m.t + ih}"/>`);
  const every = Math.max(1, Math.ceil(b.count / 15));
  for (let i = 0; i < b.count; i += every) {
    const cx = (x(i) + barW / 2).toFixed(1);
    parts.push(`<line x1="${cx}" x2="${cx}" y1="${m.t + ih}" y2="${m.t + ih + 4}"/>`);
    parts.push(`<text x="${cx}" y="${m.t + ih + 18}" text-anchor="middle">${esc(dayLabel(b.start + i * b.size))}</text>`);
  }
  parts.push('</g>');
  const svg = `<svg class="time-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`alerts per ${unit} by detector, rule set ${s.side.name}`)}">${parts.join('')}</svg>`;
  const legend = detectors
    .map((d) => {
      const n = counts.get(d)!.reduce((a, v) => a + v, 0);
      return `<li data-detector="${esc(d)}"><span class="sw box" style="background:${colourOf(d)}"></span>${esc(d)} <b>${num.format(n)}</b></li>`;
    })
    .join('');
  return `<figure class="chart" data-side="${esc(s.side.name)}"><figcaption>${sideTag(s.side.name)}${esc(s.label)}</figcaption>${svg}<ul class="legend">${legend}</ul></figure>`;
}

function alertsOverTime(bt: Backtest): string {
  const b = buckets(bt);
  let body: string;
  if (b === undefined) {
    body = '<p class="note">No alerts.</p>';
  } else {
    // Detectors with any alert on either side, so both charts share colours, legend and y scale.
    const active = DETECTOR_IDS.filter((d) => bt.sides.some((s) => s.side.alerts.some((a) => a.detector === d)));
    let yMax = 1;
    for (const s of bt.sides) {
      const totals = new Array<number>(b.count).fill(0);
      for (const c of bucketCounts(s, b, active).values()) c.forEach((v, i) => (totals[i]! += v));
      yMax = Math.max(yMax, ...totals);
    }
    body = bt.sides.map((s) => timeChart(s, b, active, yMax)).join('\n');
  }
  const unit = b && b.size !== DAY_MS ? 'week' : 'day';
  return `<section id="alerts-over-time"><h2>Alerts over time</h2><p class="note">Alerts raised per UTC ${unit}, stacked by detector (shadow alerts included); ${bt.sides.length > 1 ? 'both rule sets on the same scale. ' : ''}Hover a bar for its count.</p>${body}</section>`;
}

// ---------------------------------------------------------------- precision / recall

function precisionRecall(bt: Backtest): string {
  const scored = bt.sides.filter((s) => s.score !== undefined);
  if (scored.length === 0) {
    return '<section id="precision-recall"><h2>Precision and recall</h2><p class="note">No labels given (--labels): nothing to score against.</p></section>';
  }
  const rows: { name: string; per: (s: SideResult) => DetectorScore }[] = [
    ...DETECTOR_IDS.map((d, i) => ({ name: d, per: (s: SideResult) => s.score!.perDetector[i]! })),
    { name: 'overall (micro)', per: (s: SideResult) => s.score!.overall },
  ];
  const W = 1120;
  const labelW = 170;
  const gap = 40;
  const panelW = (W - labelW - gap - 10) / 2;
  const barMax = panelW - 120;
  const barH = 11;
  const rowH = scored.length * (barH + 3) + 12;
  const top = 52;
  const H = top + rows.length * rowH + 8;
  const parts: string[] = [];
  const panels = [
    { metric: 'precision', title: 'Precision: alerts matching an incident', x0: labelW },
    { metric: 'recall', title: 'Recall: incidents found by their detector', x0: labelW + panelW + gap },
  ] as const;
  for (const p of panels) {
    parts.push(`<text class="panel-title" x="${p.x0}" y="15" font-size="13" font-weight="600" fill="#1d2330">${esc(p.title)}</text>`);
    parts.push('<g class="grid">');
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const gx = (p.x0 + f * barMax).toFixed(1);
      parts.push(`<line x1="${gx}" x2="${gx}" y1="${top - 6}" y2="${H - 6}"/>`);
    }
    parts.push('</g><g class="tick">');
    for (const f of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<text x="${(p.x0 + f * barMax).toFixed(1)}" y="${top - 12}" text-anchor="middle">${f * 100}%</text>`);
    parts.push('</g>');
  }
  rows.forEach((r, ri) => {
    const y0 = top + ri * rowH;
    const overall = ri === rows.length - 1;
    if (overall) parts.push(`<line x1="0" x2="${W}" y1="${y0 - 3}" y2="${y0 - 3}" stroke="#c5ccd6"/>`);
    parts.push(`<text x="0" y="${y0 + rowH / 2}" font-size="12.5" fill="#1d2330"${overall ? ' font-weight="600"' : ''}>${esc(r.name)}</text>`);
    for (const p of panels) {
      scored.forEach((s, si) => {
        const sc = r.per(s);
        const value = p.metric === 'precision' ? sc.precision : sc.recall;
        const [n, d] = p.metric === 'precision' ? [sc.matched, sc.alerts] : [sc.detected, sc.incidents];
        const by = y0 + 4 + si * (barH + 3);
        const attrs = `data-side="${esc(s.side.name)}" data-metric="${p.metric}" data-detector="${esc(r.name)}"`;
        if (value === null) {
          parts.push(`<text class="na" ${attrs} x="${p.x0 + 2}" y="${by + barH - 1}" font-size="11" fill="#8a93a2">n/a (${p.metric === 'precision' ? 'no alerts' : 'no incidents'})</text>`);
          return;
        }
        const w = Math.max(value * barMax, value > 0 ? 2 : 0);
        parts.push(
          `<rect class="bar" ${attrs} x="${p.x0}" y="${by}" width="${w.toFixed(1)}" height="${barH}" rx="2" fill="${SIDE_COLOURS[s.side.name] ?? '#666'}"><title>${esc(`${s.side.name} ${r.name} ${p.metric}: ${pct(value)} (${n}/${d})`)}</title></rect>`,
        );
        parts.push(`<text x="${(p.x0 + w + 6).toFixed(1)}" y="${by + barH - 1}" font-size="11" fill="#1d2330">${esc(`${pct(value)}  (${num.format(n)}/${num.format(d)})`)}</text>`);
      });
    }
  });
  const svg = `<svg class="pr-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="precision and recall per detector">${parts.join('')}</svg>`;
  const legend = scored.map((s) => `<li><span class="sw box" style="background:${SIDE_COLOURS[s.side.name] ?? '#666'}"></span>${esc(s.side.name)}: ${esc(s.label)}</li>`).join('');
  return `<section id="precision-recall"><h2>Precision and recall</h2><p class="note">Per detector and overall (micro-averaged), labels matched with a slack of ${esc(humanDuration(bt.slackMs))}. Bars are labelled with the fraction behind them.</p>${svg}<ul class="legend">${legend}</ul></section>`;
}

// ---------------------------------------------------------------- tables

function summarySection(bt: Backtest): string {
  const tables = bt.sides
    .map((s) => {
      const t = statsTable(s);
      return `<h3>${sideTag(s.side.name)}${esc(s.label)}</h3>${dataTable(t, 'data stats-table', ` data-side="${esc(s.side.name)}"`)}`;
    })
    .join('\n');
  return `<section id="summary"><h2>Alerts by detector</h2><p class="note">alerts: raised, shadow ones included · keys: distinct accounts / addresses / networks alerted · per 10k: alerts per 10,000 scored events · cooldown, allowlist: findings suppressed · shadow: alerts of detectors in shadow mode.</p>${tables}</section>`;
}

function scoresSection(bt: Backtest): string {
  if (!bt.labels) return '';
  const tables = bt.sides
    .map((s) => `<h3>${sideTag(s.side.name)}${esc(s.label)}</h3>${dataTable(scoreTable(s), 'data score-table', ` data-side="${esc(s.side.name)}"`)}`)
    .join('\n');
  return `<section id="scores"><h2>Detection against labels</h2><p class="note">${esc(`${bt.labels.source}: ${bt.labels.incidents.length} incidents, ${bt.labels.traps.length} traps. detected: incidents with an alert of their own detector · matched: alerts matching any incident · trap alerts: alerts on a trap that lists their detector as quiet.`)}</p>${tables}</section>`;
}

/** A change table's rows with signed cells coloured (+ green, − red); the last row a total when `total`. */
function signedRows(t: { cols: readonly { header: string; right?: boolean }[]; rows: string[][] }, total: boolean): string {
  return t.rows
    .map((r, i) => {
      const tr = total && i === t.rows.length - 1 ? '<tr class="total">' : '<tr>';
      return `${tr}${r
        .map((c, j) => {
          const cls = [t.cols[j]!.right ? 'n' : '', c.startsWith('+') ? 'pos' : c.startsWith('−') ? 'neg' : ''].filter(Boolean).join(' ');
          return `<td${cls ? ` class="${cls}"` : ''}>${esc(c)}</td>`;
        })
        .join('')}</tr>`;
    })
    .join('\n');
}

/** login_risk: every judged login's score by class, the two distributions and ROC points. */
function loginRiskSection(bt: Backtest): string {
  if (bt.loginRisk === undefined || bt.loginRisk.length === 0) return '';
  const blocks = bt.loginRisk.map((r) => {
    const side = ` data-side="${esc(r.side)}"`;
    return `<h3>${sideTag(r.side)}</h3>${loginRiskChart(r)}${dataTable(loginRiskTable(r), 'data login-risk-table', side, false)}<details><summary>ROC points per threshold</summary>${dataTable(loginRiskRocTable(r), 'data login-risk-roc', side, false)}</details>`;
  });
  return `<section id="login-risk"><h2>login_risk scores</h2><p class="note">Every login login_risk judged (after its minimum history), by the label it falls in: incident classes, trap classes, and benign (accounts no incident names). ≥ medium / high: logins at or over the thresholds; accounts ≥: accounts with at least one such login.</p>${blocks.join('\n')}</section>`;
}

/** Recall per incident class and violations per trap class, for each rule set, and the A → B change. */
function classesSection(bt: Backtest): string {
  if (!bt.labels) return '';
  const classified = bt.sides[0]!.score!.perClass !== undefined;
  const trapped = bt.sides[0]!.score!.perTrapClass.length > 0;
  if (!classified && !trapped) return '';
  const blocks = bt.sides.map((s) => {
    const side = ` data-side="${esc(s.side.name)}"`;
    const parts = [`<h3>${sideTag(s.side.name)}${esc(s.label)}</h3>`];
    if (classified) parts.push(dataTable(classTable(s), 'data class-table', side, false));
    if (trapped) parts.push(dataTable(trapClassTable(s), 'data trap-class-table', side, false));
    // Benign accounts paged at high or critical, per detector; the last row ("any") is the total.
    parts.push(dataTable(benignHighTable(s), 'data benign-table', side, true));
    return parts.join('');
  });
  if (classified && bt.sides.length === 2) {
    const t = classChangeTable(bt);
    blocks.push(`<h3>Change A → B by incident class</h3><table class="data class-change-table">${th(t.cols)}<tbody>${signedRows(t, false)}</tbody></table>`);
  }
  const note = classified
    ? 'Incident classes: detected = incidents with an alert of their own detector; alerts = alerts of any detector matching the class\'s incidents, by detector = those of the incident\'s own detector; precision is the detector\'s (an alert is not raised for a class). '
    : 'The labels give incidents no class. ';
  return `<section id="classes"><h2>Detection by class</h2><p class="note">${esc(`${note}Trap classes: violated = traps with an alert of a detector they list as quiet; alerts = those alerts. Benign accounts: accounts named by no incident with a high or critical alert, and their share of the benign accounts when the labels give the population.`)}</p>${blocks.join('\n')}</section>`;
}

function alertItem(a: Alert, tag = ''): string {
  return `<li>${tag}<span class="mono">${esc(a.ts)}</span> <span class="chip"><i style="background:${colourOf(a.detector)}"></i>${esc(a.detector)}</span> ${sev(a)} ${esc(a.summary)}</li>`;
}

function diffSection(bt: Backtest, examples: number): string {
  if (!bt.diff) return '';
  const t = changeTable(bt);
  const rows = signedRows(t, true);
  const settings =
    bt.settings && bt.settings.length > 0
      ? `<h3>Settings that differ</h3><table class="data settings-diff"><thead><tr><th>setting</th><th>A</th><th>B</th></tr></thead><tbody>${bt.settings
          .map((c) => `<tr><td class="mono">${esc(c.path)}</td><td class="mono">${esc(c.a ?? '(absent)')}</td><td class="mono">${esc(c.b ?? '(absent)')}</td></tr>`)
          .join('')}</tbody></table>`
      : '<p class="note">A and B have the same effective rules.</p>';
  const examplesOf = (list: readonly Alert[], title: string) => {
    const per = new Map<string, Alert[]>();
    for (const a of list) {
      const l = per.get(a.detector) ?? [];
      if (l.length < examples) l.push(a);
      per.set(a.detector, l);
    }
    const items = DETECTOR_IDS.flatMap((d) => per.get(d) ?? []).map((a) => alertItem(a, `<span class="mono">${esc(alertKeyText(a))}</span> · `));
    return `<h3>${esc(title)} (${num.format(list.length)}; up to ${examples} per detector)</h3>${items.length > 0 ? `<ul class="alerts">${items.join('')}</ul>` : '<p class="note">None.</p>'}`;
  };
  return `<section id="diff"><h2>Change A → B</h2><p class="note">Alerts are the same across rule versions when detector, key, trigger time and triggering event agree (alertIds differ: they include the rules version). pp: percentage points.</p>${settings}<h3>Per detector</h3><table class="data change-table">${th(t.cols)}<tbody>${rows}</tbody></table>${examplesOf(bt.diff.onlyA, 'Only in A')}${examplesOf(bt.diff.onlyB, 'Only in B')}</section>`;
}

function missedSection(bt: Backtest): string {
  if (!bt.labels) return '';
  const blocks = bt.sides.map((s) => {
    const missed = s.score!.missed;
    if (missed.length === 0) return `<h3>${sideTag(s.side.name)}none missed</h3>`;
    const rows = missed
      .slice(0, 200)
      .map((m) => {
        const other = Object.entries(m.otherAlerts);
        return `<tr><td class="mono nowrap">${esc(m.incident.id)}</td><td><span class="chip"><i style="background:${colourOf(m.incident.detector)}"></i>${esc(m.incident.detector)}</span></td><td class="mono nowrap">${esc(incidentKeyText(m.incident))}</td><td class="mono nowrap">${esc(iso(m.incident.start))}<br>${esc(iso(m.incident.end))}</td><td>${esc(m.incident.description)}</td><td>${other.length > 0 ? other.map(([d, n]) => `<span class="chip">${esc(d)} ${n}</span>`).join('') : '<span class="muted">none</span>'}</td></tr>`;
      })
      .join('');
    return `<h3>${sideTag(s.side.name)}${num.format(missed.length)} of ${num.format(s.score!.overall.incidents)} missed</h3><table class="data missed-table" data-side="${esc(s.side.name)}"><thead><tr><th>incident</th><th>detector</th><th>key</th><th>range</th><th>description</th><th>other detectors' alerts</th></tr></thead><tbody>${rows}</tbody></table>`;
  });
  return `<section id="missed"><h2>Missed incidents</h2><p class="note">Incidents with no alert of their own detector within the slack.</p>${blocks.join('')}</section>`;
}

function trapsSection(bt: Backtest): string {
  if (!bt.labels) return '';
  const blocks = bt.sides.map((s) => {
    const v = s.score!.violations;
    if (v.length === 0) return `<h3>${sideTag(s.side.name)}no trap violated</h3>`;
    const rows = v
      .slice(0, 200)
      .map(
        (x) =>
          `<tr><td class="mono nowrap">${esc(x.trap.id)}</td><td class="nowrap">${esc(x.trap.class)}</td><td class="mono nowrap">${esc(`${labelKeyKind(x.trap.key) === 'account' ? 'account' : 'ip'} ${labelKeyText(x.trap.key)}`)}</td><td><span class="chip"><i style="background:${colourOf(x.detector)}"></i>${esc(x.detector)}</span></td><td class="n">${num.format(x.alerts)}</td><td>${esc(x.trap.description)}</td></tr>`,
      )
      .join('');
    return `<h3>${sideTag(s.side.name)}${num.format(s.score!.overall.trapViolations)} alert(s) violating ${num.format(v.length)} trap/detector pair(s)</h3><table class="data traps-table" data-side="${esc(s.side.name)}"><thead><tr><th>trap</th><th>class</th><th>key</th><th>detector</th><th class="n">alerts</th><th>description</th></tr></thead><tbody>${rows}</tbody></table>`;
  });
  return `<section id="traps"><h2>Trap violations</h2><p class="note">Benign behaviour that looks suspicious: alerts here from a detector the trap lists as quiet are false alarms by construction. Traps can overlap (a trip is also a flight), so one alert may violate several.</p>${blocks.join('')}</section>`;
}

function unexplainedSection(bt: Backtest, examples: number): string {
  if (!bt.labels) return '';
  const blocks = bt.sides.map((s) => {
    const groups = unexplainedExamples(s.score!.unexplained, examples);
    const rows: string[] = [];
    for (const d of DETECTOR_IDS) {
      const g = groups.get(d);
      if (!g) continue;
      for (const u of g.shown) {
        const a = u.alert;
        rows.push(
          `<tr><td><span class="chip"><i style="background:${colourOf(d)}"></i>${esc(d)}</span><div class="muted">${num.format(g.total)} unexplained</div></td><td class="mono nowrap">${esc(a.ts)}<br>${esc(alertKeyText(a))}</td><td>${sev(a)}</td><td>${esc(a.summary)}${trapNote(u) ? `<div class="muted">${esc(trapNote(u))}</div>` : ''}<div class="evidence mono">${esc(evidenceText(a, 400))}</div></td></tr>`,
        );
      }
    }
    const allowed = allowedByTrap(s.score!.unexplained);
    const note = allowed > 0 ? ` (${num.format(allowed)} in a trap where their detector may fire)` : '';
    return `<h3>${sideTag(s.side.name)}${num.format(s.score!.unexplained.length)} of ${num.format(s.side.alerts.length)} alerts match no incident${note}</h3>${rows.length > 0 ? `<table class="data unexplained-table" data-side="${esc(s.side.name)}"><thead><tr><th>detector</th><th>time · key</th><th>severity</th><th>summary · evidence</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : ''}`;
  });
  return `<section id="unexplained"><h2>Unexplained alerts</h2><p class="note">Alerts matching no labelled incident: up to ${examples} per detector, highest severity first. Some are expected (a trap's "may also fire").</p>${blocks.join('')}</section>`;
}

interface KeyRow {
  key: string;
  kind: string;
  counts: number[];
  detectors: Map<string, number>;
  items: { alert: Alert; sides: string[] }[];
  ids: Map<string, { alert: Alert; sides: string[] }>;
}

function topKeysSection(bt: Backtest, limit: number): string {
  const keys = new Map<string, KeyRow>();
  bt.sides.forEach((s, si) => {
    for (const a of s.side.alerts) {
      const k = alertKey(a);
      let r = keys.get(k);
      if (!r) keys.set(k, (r = { key: k, kind: a.accountId !== undefined ? 'account' : 'ip', counts: bt.sides.map(() => 0), detectors: new Map(), items: [], ids: new Map() }));
      r.counts[si]!++;
      // The same alert under both rule sets is listed (and counted in the chips) once, tagged A B.
      const id = alertIdentity(a);
      const seen = r.ids.get(id);
      if (seen && !seen.sides.includes(s.side.name)) seen.sides.push(s.side.name);
      else if (!seen) {
        const item = { alert: a, sides: [s.side.name] };
        r.ids.set(id, item);
        r.items.push(item);
        r.detectors.set(a.detector, (r.detectors.get(a.detector) ?? 0) + 1);
      }
    }
  });
  const top = [...keys.values()]
    .sort((x, y) => y.counts.reduce((a, b) => a + b, 0) - x.counts.reduce((a, b) => a + b, 0) || x.key.localeCompare(y.key))
    .slice(0, limit);
  const compare = bt.sides.length > 1;
  const labelled = bt.sides.some((s) => s.score);
  const SHOWN = 4;
  const rows = top.map((r, i) => {
    r.items.sort((x, y) => x.alert.ts.localeCompare(y.alert.ts));
    const tag = (it: { sides: string[] }) => (compare ? it.sides.map(sideTag).join('') : '');
    const first = r.items.slice(0, SHOWN).map((it) => alertItem(it.alert, tag(it)));
    const rest = r.items.slice(SHOWN).map((it) => alertItem(it.alert, tag(it)));
    const list = `<ul class="alerts">${first.join('')}</ul>${rest.length > 0 ? `<details><summary>${rest.length} more</summary><ul class="alerts">${rest.join('')}</ul></details>` : ''}`;
    const incidents = new Set<string>();
    for (const s of bt.sides) for (const id of s.score?.incidentsByKey.get(r.key) ?? []) incidents.add(id);
    const chips = DETECTOR_IDS.filter((d) => r.detectors.has(d))
      .map((d) => `<span class="chip"><i style="background:${colourOf(d)}"></i>${esc(d)} ${num.format(r.detectors.get(d)!)}</span>`)
      .join('');
    const labelCell = labelled ? `<td>${incidents.size > 0 ? [...incidents].sort().map((id) => `<span class="chip">${esc(id)}</span>`).join('') : '<span class="muted">unlabelled</span>'}</td>` : '';
    return `<tr><td class="n">${i + 1}</td><td class="mono nowrap">${esc(r.key)}<div class="muted">${esc(r.kind)}</div></td>${r.counts.map((c) => `<td class="n">${num.format(c)}</td>`).join('')}<td>${chips}</td>${labelCell}<td>${list}</td></tr>`;
  });
  const head = `<tr><th class="n">#</th><th>key</th>${bt.sides.map((s) => `<th class="n">alerts ${esc(s.side.name)}</th>`).join('')}<th>detectors</th>${labelled ? '<th>incidents</th>' : ''}<th>alerts (earliest first)</th></tr>`;
  return `<section id="top-keys"><h2>Top keys</h2><p class="note">The ${top.length} keys with the most alerts${compare ? ' (A and B together; tags say which rule set raised each alert)' : ''}.</p><table class="data keys-table"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/**
 * Effective YAML with the lines that differ from the other side marked. Both are the full
 * effective rules (every default filled in), so a changed value sits on the same line number;
 * when a list changes length the lines no longer pair up and nothing is marked (the
 * settings table in the comparison section lists the differences either way).
 */
function yamlBlocks(bt: Backtest): string[] {
  const texts = bt.sides.map((s) => effectiveYaml(s.side.rules).replace(/\n$/, '').split('\n'));
  const paired = texts.length === 2 && texts[0]!.length === texts[1]!.length;
  return texts.map((lines, si) =>
    lines
      .map((line, i) => (paired && i > 0 && line !== texts[1 - si]![i] ? `<span class="changed">${esc(line)}</span>` : esc(line)))
      .join('\n'),
  );
}

function rulesSection(bt: Backtest): string {
  const yaml = yamlBlocks(bt);
  const blocks = bt.sides
    .map((s, i) => `<div id="rules-${esc(s.side.name.toLowerCase())}" class="rules"><h3>${sideTag(s.side.name)}${esc(s.label)}</h3><pre class="yaml">${yaml[i]}</pre></div>`)
    .join('');
  return `<section id="rules"><h2>Effective rules</h2><p class="note">Every setting, defaults filled in, as <code>fraudwatch validate</code> prints them${bt.sides.length > 1 ? '; lines that differ between A and B are highlighted' : ''}.</p><div class="rules-grid">${blocks}</div></section>`;
}

/** Present when A and B locate with different data: how the log's addresses moved between them. */
function geoSection(bt: Backtest): string {
  const g = bt.geo;
  if (g === undefined) return '';
  const data = bt.sides.map((s) => `<li>${sideTag(s.side.name)}${esc(describeGeo(s.side.rules.geo))}</li>`).join('');
  const examples = g.examples.length > 0 ? `<h3>Largest differences</h3>${dataTable({ cols: GEO_EXAMPLE_COLUMNS, rows: g.examples.map(geoExampleCells) }, 'data geo-examples', '', false)}` : '';
  return `<section id="geo"><h2>Geolocation A → B</h2><p class="note">How the two databases place the ${esc(num.format(g.addresses))} distinct addresses of the log; the change in the geo detectors' alerts below follows from these.</p><ul class="legend">${data}</ul>${dataTable(geoTable(g), 'data geo-table', '', false)}${examples}</section>`;
}

/** Headline numbers, one card per measure with a line per rule set. */
function headline(bt: Backtest): string {
  const cards: [string, (s: SideResult) => string][] = [['alerts', (s) => num.format(s.total.alerts)]];
  if (bt.labels) {
    cards.push(
      ['precision', (s) => pct(s.score!.overall.precision)],
      ['recall', (s) => pct(s.score!.overall.recall)],
      ['missed incidents', (s) => num.format(s.score!.missed.length)],
      ['unexplained alerts', (s) => num.format(s.score!.unexplained.length)],
      ['trap alerts', (s) => num.format(s.score!.overall.trapViolations)],
    );
  }
  const html = cards
    .map(([k, f]) => `<div class="kpi"><div class="k">${esc(k)}</div>${bt.sides.map((s) => `<div class="v">${bt.sides.length > 1 ? sideTag(s.side.name) : ''}${esc(f(s))}</div>`).join('')}</div>`)
    .join('');
  return `<div class="kpis">${html}</div>`;
}

/** Renders the backtest as one HTML document. */
export function renderReport(bt: Backtest, opts: ReportOptions): string {
  const st = bt.sides[0]!.side.stats;
  const meta: [string, string][] = [
    ['event log', bt.events],
    ['events', `${num.format(st.processed)} scored from ${num.format(bt.sides[0]!.side.lines)} lines (${num.format(st.invalidTotal)} invalid, ${num.format(st.duplicates)} duplicates, ${num.format(st.late)} late)`],
    ...bt.sides.flatMap((s): [string, string][] => [
      [`rules ${s.side.name}`, s.label],
      [`geo ${s.side.name}`, describeGeo(s.side.rules.geo)],
    ]),
  ];
  if (bt.labels) meta.push(['labels', `${bt.labels.source}: ${bt.labels.incidents.length} incidents, ${bt.labels.traps.length} traps; match slack ${humanDuration(bt.slackMs)}`]);
  const sections = [
    summarySection(bt),
    alertsOverTime(bt),
    precisionRecall(bt),
    scoresSection(bt),
    classesSection(bt),
    loginRiskSection(bt),
    geoSection(bt),
    diffSection(bt, opts.examples),
    missedSection(bt),
    trapsSection(bt),
    unexplainedSection(bt, opts.examples),
    topKeysSection(bt, opts.topKeys ?? 25),
    rulesSection(bt),
  ].filter(Boolean);
  const toc = sections
    .map((s) => /<section id="([^"]+)"><h2>([^<]+)<\/h2>/.exec(s))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `<a href="#${m[1]}">${m[2]}</a>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`fraudwatch backtest: ${bt.events}`)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top"><div class="inner"><h1>fraudwatch backtest</h1><dl>${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></div></header>
<main>
${headline(bt)}
<nav class="toc">${toc}</nav>
${sections.join('\n')}
</main>
</body>
</html>
`;
}
