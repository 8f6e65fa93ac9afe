import type { Stats } from '../engine/stats.js';

function breakdown(counts: Record<string, number | undefined>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`);
  return parts.length > 0 ? `  (${parts.join(', ')})` : '';
}

function total(counts: Record<string, number | undefined>): number {
  return Object.values(counts).reduce<number>((a, n) => a + (n ?? 0), 0);
}

const fmt = new Intl.NumberFormat('en-US');

/** The run summary printed on stderr by replay (and reused by backtest). */
export function formatSummary(title: string, stats: Stats, lines: number, elapsedMs: number, rulesLabel: string): string {
  const rate = elapsedMs > 0 ? Math.round((stats.read / elapsedMs) * 1000) : 0;
  const rows: [string, string][] = [
    ['lines read', fmt.format(lines)],
    ['events valid', `${fmt.format(stats.valid)}${breakdown(stats.byType)}`],
    ['invalid', `${fmt.format(stats.invalidTotal)}${breakdown(stats.invalid)}`],
    ['duplicates', fmt.format(stats.duplicates)],
    ['late', fmt.format(stats.late)],
    ['processing errors', fmt.format(stats.processingErrors)],
    ['evicted keys', `${fmt.format(stats.evictions.account + stats.evictions.ip)}${breakdown(stats.evictions)}`],
    ['alerts', `${fmt.format(total(stats.alerts))}${breakdown(stats.alerts)}`],
    ['shadow alerts', `${fmt.format(total(stats.shadowAlerts))}${breakdown(stats.shadowAlerts)}`],
    ['suppressed (cooldown)', `${fmt.format(total(stats.suppressedCooldown))}${breakdown(stats.suppressedCooldown)}`],
    ['suppressed (allowlist)', `${fmt.format(total(stats.suppressedAllowlist))}${breakdown(stats.suppressedAllowlist)}`],
    ['rules', rulesLabel],
    ['throughput', `${fmt.format(rate)} events/s (${(elapsedMs / 1000).toFixed(2)} s)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n') + '\n';
}
