import type { Alert } from '../alerts/alert.js';
import { parseRules, type Rules } from '../config/rules.js';
import type { GeoLocator } from '../geo/locator.js';
import { replayLog } from '../io/replay.js';
import type { Labels } from './labels.js';

/*
 * login_risk in the backtest: the score of every judged login, not only of those
 * that alerted, by class (incident classes, trap classes, benign accounts), with the share over
 * each threshold, and the distributions of benign and incident logins as histograms and ROC
 * points. The scores come from a second replay with the same rules in which login_risk alone
 * runs and reports every judged login (its medium threshold at the bottom of its range, no
 * cooldown): the detector's own code on the same event order, so a score here is the score the
 * detector computed, never a re-implementation of it.
 */

export interface ScoredLogin {
  readonly accountId: string;
  readonly ts: number;
  readonly score: number;
}

export interface LoginRiskClassRow {
  /** "benign", an incident class, or a trap class. */
  readonly class: string;
  readonly kind: 'benign' | 'incident' | 'trap';
  /** Judged logins of this class (after the minimum history). */
  readonly logins: number;
  readonly medium: number;
  readonly high: number;
  readonly accounts: number;
  /** Accounts (incidents, traps) with at least one login at or over the medium / high threshold. */
  readonly accountsMedium: number;
  readonly accountsHigh: number;
  readonly maxScore: number | null;
}

export interface RocPoint {
  readonly threshold: number;
  /** Share of incidents labelled login_risk with a login scoring at or over the threshold (recall). */
  readonly tpr: number;
  /** Share of benign logins scoring at or over it. */
  readonly fpr: number;
  /** Share of benign accounts with a login at or over it. */
  readonly benignAccounts: number;
}

export interface LoginRiskReport {
  readonly side: string;
  readonly mediumScore: number;
  readonly highScore: number;
  readonly rows: readonly LoginRiskClassRow[];
  /** Histogram bins (1 bit wide, lower edges) and counts, benign and incident logins. */
  readonly bins: readonly number[];
  readonly benign: readonly number[];
  readonly incident: readonly number[];
  readonly roc: readonly RocPoint[];
}

/** The rules of the scoring pass: the same login_risk, reporting every judged login, nothing else running. */
function scoringRules(rules: Rules): Rules | undefined {
  const effective = JSON.parse(JSON.stringify(rules.effective)) as { detectors: Record<string, Record<string, unknown>> };
  const lr = effective.detectors.login_risk;
  if (lr === undefined || lr.enabled !== true) return undefined;
  for (const [id, d] of Object.entries(effective.detectors)) if (id !== 'login_risk') d.enabled = false;
  lr.mediumScore = -100;
  lr.highScore = 200;
  lr.cooldown = '0s';
  lr.mode = 'enforce';
  lr.allowlist = { cidrs: [], accounts: [] };
  return parseRules(JSON.stringify(effective), `${rules.source} (login_risk scores)`);
}

/** Every judged login's score, in event order; undefined when the rules do not run login_risk. */
export async function scoreLogins(opts: { path: string; rules: Rules; locator: GeoLocator; latenessMs?: number }): Promise<ScoredLogin[] | undefined> {
  const rules = scoringRules(opts.rules);
  if (rules === undefined) return undefined;
  const out: ScoredLogin[] = [];
  await replayLog({
    path: opts.path,
    rules,
    locator: opts.locator,
    latenessMs: opts.latenessMs,
    onAlert: (a: Alert) => {
      if (a.detector === 'login_risk' && a.accountId !== undefined) out.push({ accountId: a.accountId, ts: Date.parse(a.ts), score: (a.evidence as { score: number }).score });
    },
  });
  return out;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Classifies each judged login: a login inside an incident (± slack) counts for the incident's
 * class; else inside a trap, for the trap's class; else on an account no incident names, as
 * benign. Logins of incident accounts outside their incidents are left out (neither).
 */
export function loginRiskReport(side: string, rules: Rules, scored: readonly ScoredLogin[], labels: Labels, slackMs: number): LoginRiskReport {
  const cfg = rules.effective.detectors as Record<string, { mediumScore: number; highScore: number }>;
  const { mediumScore, highScore } = cfg.login_risk!;
  const incidents = new Map<string, { id: string; cls: string; detector: string; start: number; end: number }[]>();
  for (const i of labels.incidents) {
    if (!('accountId' in i.key)) continue;
    const list = incidents.get(i.key.accountId) ?? [];
    list.push({ id: i.id, cls: i.class ?? i.detector, detector: i.detector, start: i.start - slackMs, end: i.end + slackMs });
    incidents.set(i.key.accountId, list);
  }
  const traps = new Map<string, { cls: string; start: number; end: number }[]>();
  for (const t of labels.traps) {
    if (!('accountId' in t.key)) continue;
    const list = traps.get(t.key.accountId) ?? [];
    list.push({ cls: t.class, start: t.start - slackMs, end: t.end + slackMs });
    traps.set(t.key.accountId, list);
  }
  const rows = new Map<string, { kind: LoginRiskClassRow['kind']; logins: number; medium: number; high: number; accounts: Map<string, number>; max: number | null }>();
  const bump = (cls: string, kind: LoginRiskClassRow['kind'], l: ScoredLogin) => {
    let r = rows.get(cls);
    if (!r) rows.set(cls, (r = { kind, logins: 0, medium: 0, high: 0, accounts: new Map(), max: null }));
    r.logins++;
    if (l.score >= mediumScore) r.medium++;
    if (l.score >= highScore) r.high++;
    r.accounts.set(l.accountId, Math.max(r.accounts.get(l.accountId) ?? -Infinity, l.score));
    r.max = r.max === null ? l.score : Math.max(r.max, l.score);
  };
  const benignScores: number[] = [];
  const benignAccountMax = new Map<string, number>();
  const incidentScores: number[] = [];
  /** Best score per incident labelled login_risk (-Infinity: none of its logins was judged). */
  const incidentMax = new Map<string, number>(labels.incidents.filter((i) => i.detector === 'login_risk').map((i) => [i.id, -Infinity]));
  for (const l of scored) {
    const inc = (incidents.get(l.accountId) ?? []).filter((i) => l.ts >= i.start && l.ts <= i.end);
    if (inc.length > 0) {
      for (const cls of new Set(inc.map((i) => i.cls))) bump(cls, 'incident', l);
      if (inc.some((i) => i.detector === 'login_risk')) incidentScores.push(l.score);
      for (const i of inc) if (i.detector === 'login_risk') incidentMax.set(i.id, Math.max(incidentMax.get(i.id)!, l.score));
      continue;
    }
    const trap = (traps.get(l.accountId) ?? []).filter((t) => l.ts >= t.start && l.ts <= t.end);
    if (trap.length > 0) {
      for (const cls of new Set(trap.map((t) => t.cls))) bump(cls, 'trap', l);
      continue;
    }
    if (incidents.has(l.accountId)) continue;
    bump('benign', 'benign', l);
    benignScores.push(l.score);
    benignAccountMax.set(l.accountId, Math.max(benignAccountMax.get(l.accountId) ?? -Infinity, l.score));
  }
  const order = { benign: 0, incident: 1, trap: 2 };
  const table: LoginRiskClassRow[] = [...rows]
    .map(([cls, r]) => {
      const maxes = [...r.accounts.values()];
      return {
        class: cls,
        kind: r.kind,
        logins: r.logins,
        medium: r.medium,
        high: r.high,
        accounts: r.accounts.size,
        accountsMedium: maxes.filter((m) => m >= mediumScore).length,
        accountsHigh: maxes.filter((m) => m >= highScore).length,
        maxScore: r.max,
      };
    })
    .sort((a, b) => order[a.kind] - order[b.kind] || byName(a.class, b.class));

  const all = [...benignScores, ...incidentScores];
  const lo = all.length > 0 ? Math.floor(Math.min(...all)) : 0;
  const hi = all.length > 0 ? Math.floor(Math.max(...all)) : 0;
  const bins = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const histogram = (xs: readonly number[]) => {
    const h = new Array<number>(bins.length).fill(0);
    for (const x of xs) h[Math.floor(x) - lo]!++;
    return h;
  };
  const accountMaxes = [...benignAccountMax.values()];
  const share = (xs: readonly number[], t: number) => (xs.length === 0 ? 0 : xs.filter((x) => x >= t).length / xs.length);
  const incidentMaxes = [...incidentMax.values()];
  const roc = bins.map((t) => ({ threshold: t, tpr: share(incidentMaxes, t), fpr: share(benignScores, t), benignAccounts: share(accountMaxes, t) }));
  return { side, mediumScore, highScore, rows: table, bins, benign: histogram(benignScores), incident: histogram(incidentScores), roc };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ratioText = (n: number, d: number) => (d === 0 ? 'n/a' : pct(n / d));

/** The per-class table, as cells for the terminal and the HTML report. */
export function loginRiskTable(r: LoginRiskReport): { cols: readonly { header: string; right?: boolean }[]; rows: string[][] } {
  const cols = [
    { header: 'class' },
    { header: 'kind' },
    { header: 'accounts', right: true },
    { header: 'logins', right: true },
    { header: `≥ medium (${r.mediumScore})`, right: true },
    { header: `≥ high (${r.highScore})`, right: true },
    { header: 'accounts ≥ medium', right: true },
    { header: 'accounts ≥ high', right: true },
    { header: 'max score', right: true },
  ];
  const rows = r.rows.map((c) => [
    c.class,
    c.kind,
    String(c.accounts),
    String(c.logins),
    String(c.medium),
    String(c.high),
    `${c.accountsMedium} (${ratioText(c.accountsMedium, c.accounts)})`,
    `${c.accountsHigh} (${ratioText(c.accountsHigh, c.accounts)})`,
    c.maxScore === null ? 'n/a' : c.maxScore.toFixed(1),
  ]);
  return { cols, rows };
}

/** ROC points per whole-bit threshold, as cells. */
export function loginRiskRocTable(r: LoginRiskReport): { cols: readonly { header: string; right?: boolean }[]; rows: string[][] } {
  const cols = [
    { header: 'threshold (bits)', right: true },
    { header: 'incidents ≥ (recall)', right: true },
    { header: 'benign logins ≥', right: true },
    { header: 'benign accounts ≥', right: true },
  ];
  return { cols, rows: r.roc.filter((p) => p.threshold >= 0).map((p) => [String(p.threshold), pct(p.tpr), pct(p.fpr), pct(p.benignAccounts)]) };
}

const escHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Two histograms on one axis, benign and incident logins, each as the share of its own logins
 * per 1-bit bin (the two differ in size by thousands), with the medium and high thresholds.
 */
export function loginRiskChart(r: LoginRiskReport): string {
  const W = 760;
  const H = 240;
  const L = 46;
  const B = 30;
  const T = 12;
  const n = r.bins.length;
  if (n === 0) return '<p class="note">No judged logins.</p>';
  const total = (h: readonly number[]) => h.reduce((a, b) => a + b, 0) || 1;
  const shares = [r.benign.map((c) => c / total(r.benign)), r.incident.map((c) => c / total(r.incident))];
  const yMax = Math.max(0.01, ...shares[0]!, ...shares[1]!);
  const bw = (W - L - 10) / n;
  const x = (bin: number) => L + (bin - r.bins[0]!) * bw;
  const y = (s: number) => T + (H - T - B) * (1 - s / yMax);
  const colours = ['#4c78a8', '#e45756'];
  const bars = shares
    .map((h, k) =>
      h
        .map((s, i) => (s > 0 ? `<rect x="${(x(r.bins[i]!) + (k * bw) / 2).toFixed(1)}" y="${y(s).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${(H - B - y(s)).toFixed(1)}" fill="${colours[k]}"><title>${k === 0 ? 'benign' : 'incident'} ${r.bins[i]}…${r.bins[i]! + 1} bits: ${pct(s)}</title></rect>` : ''))
        .join(''),
    )
    .join('');
  const step = Math.max(1, Math.ceil(n / 16));
  const ticks = r.bins
    .filter((_, i) => i % step === 0)
    .map((b) => `<g class="tick"><line x1="${x(b)}" x2="${x(b)}" y1="${H - B}" y2="${H - B + 4}" stroke="#9aa3b1"/><text x="${x(b)}" y="${H - B + 16}" text-anchor="middle">${b}</text></g>`)
    .join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<g class="tick"><text x="${L - 6}" y="${(y(f * yMax) + 4).toFixed(1)}" text-anchor="end">${pct(f * yMax)}</text></g>`)
    .join('');
  const line = (t: number, label: string) =>
    t >= r.bins[0]! && t <= r.bins[n - 1]! + 1
      ? `<line x1="${x(t)}" x2="${x(t)}" y1="${T}" y2="${H - B}" stroke="#333" stroke-dasharray="4 3"/><text x="${x(t) + 3}" y="${T + 10}" font-size="11">${label} ${t}</text>`
      : '';
  return `<figure class="chart"><figcaption>login_risk scores: share of benign logins (blue) and of incident logins (red) per 1-bit bin</figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="login_risk score histograms"><g class="axis"><line x1="${L}" x2="${W - 10}" y1="${H - B}" y2="${H - B}"/></g>${bars}${ticks}${yTicks}${line(r.mediumScore, 'medium')}${line(r.highScore, 'high')}</svg><ul class="legend"><li><span class="sw box" style="background:${colours[0]}"></span>benign logins (${total(r.benign)})</li><li><span class="sw box" style="background:${colours[1]}"></span>incident logins of classes labelled login_risk (${total(r.incident)})</li></ul></figure><p class="note">${escHtml('Score = Σ log2(prior / p(value | account)) over the login\'s features; see docs/rules.md.')}</p>`;
}
