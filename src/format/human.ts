/**
 * Numbers as an analyst reads them, for alert summaries and reports (never for evidence, which
 * keeps plain numbers for machines). One module so every summary spells a duration, a distance
 * or a ratio the same way.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const UNITS = [
  [DAY, 'd'],
  [HOUR, 'h'],
  [MINUTE, 'm'],
  [SECOND, 's'],
] as const;

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/**
 * A duration in its two largest units, rounded to the smaller one: `850ms`, `45s`, `1m25s`,
 * `2h5m`, `3d4h`, and `10m` or `1d` when the second unit is zero. Two units are precise enough
 * for a summary (85,449 ms is `1m25s`) and short enough to read at a glance.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${humanDuration(-ms)}`;
  // The precision is chosen from the value as given; rounding may then carry into the next unit
  // (59.7 s → 1m, 23h59m40s → 1d), which the split below spells correctly.
  const precision = ms >= DAY ? HOUR : ms >= HOUR ? MINUTE : ms >= SECOND ? SECOND : 1;
  const r = Math.round(ms / precision) * precision;
  if (r < SECOND) return `${r}ms`;
  const i = UNITS.findIndex(([size]) => r >= size);
  const [size, unit] = UNITS[i]!;
  const whole = Math.floor(r / size);
  const rest = r - whole * size;
  const next = UNITS[i + 1];
  return next !== undefined && rest > 0 ? `${whole}${unit}${Math.round(rest / next[0])}${next[1]}` : `${whole}${unit}`;
}

/** A count with thousands separators: `1,234`. Counts are whole; anything else is rounded. */
export function humanCount(n: number): string {
  return grouped.format(Math.round(n));
}

/** A measured quantity (a median, a z-score): at most one decimal, `7.5`, `14`, `1,302.4`. */
export function humanNumber(x: number): string {
  // `|| 0` turns a rounded -0 into 0: "-0" reads as a sign that means something.
  return oneDecimal.format(Math.round(x * 10) / 10 || 0);
}

/** A ratio from 0 to 1 as a whole percentage: `0.953` → `95%`. */
export function humanPercent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/**
 * A distance in kilometres: whole kilometres with separators (`5,570 km`), one decimal below
 * 10 km, where a whole number would round a short hop to nothing.
 */
export function humanDistance(km: number): string {
  return `${Math.abs(km) < 10 ? humanNumber(km) : humanCount(km)} km`;
}

/** A speed in km/h, whole: `812 km/h`, `12,431 km/h`. */
export function humanSpeed(kmh: number): string {
  return `${humanCount(kmh)} km/h`;
}
