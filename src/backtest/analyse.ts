import { rulesLabel } from '../cli/rulesFlag.js';
import { diffAlerts, rulesDiff, type AlertDiff, type SettingChange } from './diff.js';
import type { GeoComparison } from './geo.js';
import type { Labels } from './labels.js';
import type { LoginRiskReport } from './loginRisk.js';
import { detectorRows, type DetectorRow, type Side } from './run.js';
import { scoreAlerts, type Score } from './score.js';

/** Everything the terminal table and the HTML report show, computed once from the runs. */
export interface Backtest {
  /** The event log as given on the command line. */
  readonly events: string;
  readonly sides: readonly SideResult[];
  readonly labels?: Labels;
  readonly slackMs: number;
  /** Present with two rule sets: A's alerts against B's. */
  readonly diff?: AlertDiff;
  /** Present with two rule sets: the effective settings that differ. */
  readonly settings?: readonly SettingChange[];
  /** Present when the two rule sets locate addresses with different data: how the log's addresses moved. */
  readonly geo?: GeoComparison;
  /** With labels, per rule set running login_risk: every judged login's score by class. */
  readonly loginRisk?: readonly LoginRiskReport[];
}

export interface SideResult {
  readonly side: Side;
  /** "path (rulesVersion abc123)". */
  readonly label: string;
  readonly rows: readonly DetectorRow[];
  readonly total: DetectorRow;
  /** Present with labels. */
  readonly score?: Score;
}

export function analyse(events: string, sides: readonly Side[], labels: Labels | undefined, slackMs: number, geo?: GeoComparison): Backtest {
  const results = sides.map((side): SideResult => {
    const { rows, total } = detectorRows(side);
    return { side, label: rulesLabel(side.rules), rows, total, score: labels ? scoreAlerts(side.alerts, labels, { slackMs }) : undefined };
  });
  const diff = sides.length === 2 ? diffAlerts(sides[0]!.alerts, sides[1]!.alerts) : undefined;
  const settings = sides.length === 2 ? rulesDiff(sides[0]!.rules.effective, sides[1]!.rules.effective) : undefined;
  return { events, sides: results, labels, slackMs, diff, settings, geo };
}
