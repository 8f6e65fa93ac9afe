import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;

/**
 * What to say about a number given where a duration belongs (`cooldown: 30`, `--lateness 30`):
 * the unit is the one thing a reader cannot guess, so the hint shows the number with one.
 */
export function bareNumberHint(value: number | string): string {
  const n = String(value).trim();
  const example = BARE_NUMBER.test(n) ? `${n}s` : '30s';
  return `${n} has no unit: write a duration with a unit, e.g. ${example}`;
}

/** "10m" → 600000. Durations in rule files are strings with a unit so a reader never guesses. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) {
    if (BARE_NUMBER.test(text.trim())) throw new Error(bareNumberHint(text));
    throw new Error(`"${text}" is not a duration such as 30s, 10m, 1h or 7d`);
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** The shortest exact spelling of a duration, for summaries and the effective config. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Inclusive bounds of a duration setting, as durations with a unit. */
export type DurationBounds = readonly [min: string, max: string];

/**
 * The bounds of `lateness`, in one place for the rules file and the command line
 * (`--lateness`, FRAUDWATCH_LATENESS), so a value one accepts the other accepts too.
 */
export const LATENESS_BOUNDS: DurationBounds = ['0s', '1h'];

/**
 * Why `ms` is out of bounds, or undefined when it is within them. `text` is how the value was
 * written, echoed in the message (the exact spelling of `ms` when not given).
 */
export function outOfBounds(ms: number, [min, max]: DurationBounds, text = formatDuration(ms)): string | undefined {
  return ms < parseDuration(min) || ms > parseDuration(max) ? `${text} is outside ${min}..${max}` : undefined;
}

/**
 * A zod duration field. It stays a string in the effective config (so `validate` prints what the
 * user wrote) and is bounded here, once, so detectors never see a zero or absurd window.
 */
export function duration(min: string, max: string) {
  const bounds: DurationBounds = [min, max];
  // Checked now, so a typo in a schema's bounds fails at start-up rather than at the first file.
  parseDuration(min);
  parseDuration(max);
  // YAML reads `cooldown: 30` as a number: say what is missing rather than "expected string".
  return z.string({ error: (issue) => (typeof issue.input === 'number' ? bareNumberHint(issue.input) : undefined) }).superRefine((s, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return;
    }
    const problem = outOfBounds(ms, bounds, s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}
