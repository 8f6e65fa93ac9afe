/**
 * The error catalogue. Every error fraudwatch raises on purpose has a stable code that users
 * can search for; the README lists them all and a test checks the two stay in step.
 *
 * `retriable` tells a runner whether trying again can help (a broker outage) or not
 * (a bad rule file): runners decide from this flag, never from message text.
 */

export interface ErrorSpec {
  readonly message: string;
  readonly retriable: boolean;
  readonly kind: 'config' | 'input' | 'cli' | 'kafka' | 'internal';
}

export const ERRORS = {
  FW_RULES_READ: { kind: 'config', retriable: false, message: 'cannot read the rules file' },
  FW_RULES_SYNTAX: { kind: 'config', retriable: false, message: 'the rules file is not valid YAML' },
  FW_RULES_UNKNOWN_KEY: { kind: 'config', retriable: false, message: 'unknown key' },
  FW_RULES_INVALID_VALUE: { kind: 'config', retriable: false, message: 'invalid value' },
  FW_RULES_MISSING_KEY: { kind: 'config', retriable: false, message: 'missing required key' },
  FW_RULES_TOO_LARGE: { kind: 'config', retriable: false, message: 'the rules file is too large or too deeply nested' },
  FW_RULES_ALIASES: { kind: 'config', retriable: false, message: 'the YAML aliases in the rules file are too many or expand too far' },
  FW_RULES_EMPTY: { kind: 'config', retriable: false, message: 'the rules file is empty' },
  FW_CLI_BAD_FLAG: { kind: 'cli', retriable: false, message: 'invalid command-line flag or environment variable' },
  FW_INPUT_READ: { kind: 'input', retriable: false, message: 'cannot read the event log' },
  FW_INPUT_INVALID: { kind: 'input', retriable: false, message: 'invalid event record' },
  FW_INPUT_MISKEYED: { kind: 'input', retriable: false, message: 'a record of co-partitioned input is not keyed by its accountId' },
  FW_INPUT_LATE: { kind: 'input', retriable: false, message: 'events arrived behind the watermark' },
  FW_STATE_EVICTING: { kind: 'input', retriable: false, message: 'detector state reached its budget: keys are being evicted' },
  FW_LABELS_INVALID: { kind: 'input', retriable: false, message: 'invalid labels file' },
  FW_GEO_DB: { kind: 'config', retriable: false, message: 'cannot open the geolocation database' },
  FW_KAFKA_CONNECT: { kind: 'kafka', retriable: true, message: 'cannot reach the Kafka brokers' },
  // Not retriable: the same credentials or the same CA will be refused again, and a daemon that
  // retried for ever would only look like an outage (and, against some brokers, lock the account).
  FW_KAFKA_AUTH: { kind: 'kafka', retriable: false, message: 'authentication with the Kafka brokers failed' },
  FW_KAFKA_PRODUCE: { kind: 'kafka', retriable: true, message: 'producing to Kafka failed' },
  FW_KAFKA_COMMIT: { kind: 'kafka', retriable: true, message: 'committing offsets failed' },
  FW_KAFKA_FATAL: { kind: 'kafka', retriable: false, message: 'the Kafka client failed and cannot recover' },
  FW_KAFKA_FENCED: { kind: 'kafka', retriable: false, message: 'fenced: another instance owns this task now' },
  FW_STATE_CORRUPT: { kind: 'kafka', retriable: false, message: 'a changelog record cannot be read' },
  FW_INTERNAL: { kind: 'internal', retriable: false, message: 'internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class FraudwatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail?: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    const spec = ERRORS[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, options);
    this.name = 'FraudwatchError';
    this.code = code;
    this.retriable = spec.retriable;
    this.details = Object.freeze({ ...details });
  }
}

/** One located problem in a rules file, in the `file:line:col` shape editors can jump to. */
export interface RulesIssue {
  readonly code:
    | 'FW_RULES_SYNTAX'
    | 'FW_RULES_UNKNOWN_KEY'
    | 'FW_RULES_INVALID_VALUE'
    | 'FW_RULES_MISSING_KEY'
    | 'FW_RULES_TOO_LARGE'
    | 'FW_RULES_ALIASES'
    | 'FW_RULES_EMPTY';
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted field path, e.g. `detectors.brute_force.threshold`. Empty for syntax errors. */
  readonly path: string;
  readonly message: string;
}

export function formatRulesIssue(issue: RulesIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  const field = issue.path ? ` ${issue.path}:` : '';
  return `${where} ${issue.code}${field} ${issue.message}`;
}

/**
 * At most this many problems of one rules file are listed. A generated or corrupted file can
 * have tens of thousands (one per unknown key), and every one of them would otherwise be printed
 * by `validate` and logged by a daemon on each reload attempt.
 */
export const MAX_LISTED_RULES_ISSUES = 50;

/**
 * Thrown when a rules file has one or more problems; carries all of them (up to
 * MAX_LISTED_RULES_ISSUES), not just the first. Past the cap, `issues` ends with one entry, at
 * the first unlisted problem's position, saying how many more there are; `total` counts them all.
 */
export class RulesError extends FraudwatchError {
  readonly issues: readonly RulesIssue[];
  readonly total: number;

  constructor(issues: readonly RulesIssue[]) {
    const first = issues[0];
    const listed = issues.length > MAX_LISTED_RULES_ISSUES ? capIssues(issues) : issues;
    super(first ? first.code : 'FW_RULES_INVALID_VALUE', listed.map(formatRulesIssue).join('\n'), { count: issues.length });
    this.name = 'RulesError';
    this.issues = Object.freeze([...listed]);
    this.total = issues.length;
  }
}

function capIssues(issues: readonly RulesIssue[]): RulesIssue[] {
  const next = issues[MAX_LISTED_RULES_ISSUES]!;
  const more = issues.length - MAX_LISTED_RULES_ISSUES;
  return [
    ...issues.slice(0, MAX_LISTED_RULES_ISSUES),
    { ...next, path: '', message: `… and ${more} more from here on (${issues.length} problems in all; the first ${MAX_LISTED_RULES_ISSUES} are listed)` },
  ];
}
