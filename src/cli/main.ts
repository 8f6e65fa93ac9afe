import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatRulesIssue, FraudwatchError, RulesError } from '../errors.js';
import { LATENESS_BOUNDS, outOfBounds, parseDuration } from '../config/duration.js';
import { addRunFlags } from './runFlags.js';

/** Exit codes: 0 success, 1 the input or rules were rejected (validate, --strict), 2 usage or internal error. */
export const EXIT = { OK: 0, REJECTED: 1, USAGE: 2 } as const;

export function durationFlag(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * `--lateness`: the same bounds as `lateness` in a rules file. Without them the command line
 * took a value (2h) that the same setting in a rules file rejects.
 */
export function latenessFlag(value: string): number {
  const ms = durationFlag(value);
  const problem = outOfBounds(ms, LATENESS_BOUNDS, value.trim());
  if (problem !== undefined) throw new InvalidArgumentError(`${problem} (the same range as lateness in a rules file)`);
  return ms;
}

export function intFlag(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

// Commands load their modules when chosen: `validate` need not load kafkajs, `replay` need not
// load the daemon, and nothing pays for what it does not run.
export function buildProgram(): Command {
  const program = new Command('fraudwatch')
    .description('Account-fraud anomaly detection for login and playback event streams.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('replay')
    .description('Score a recorded event log (JSON lines) and write its alerts as JSON lines.')
    .argument('<events>', 'event log path, or - for standard input')
    .option('--rules <file>', 'rules YAML (default: built-in defaults, identical to rules/default.yaml)')
    .option('--out <file>', 'write alerts here instead of standard output')
    .option('--shadow-out <file>', 'write shadow-mode alerts here (default: with the others, marked "shadow": true)')
    .option('--invalid-out <file>', 'write rejected lines here as JSON lines with their line number and reason')
    .addOption(new Option('--lateness <duration>', `override the rules' reorder lateness, e.g. 0s or 2m (${LATENESS_BOUNDS.join('..')})`).argParser(latenessFlag))
    .option('--strict', 'stop at the first invalid line (exit 1); a processing error exits 1 after the whole log', false)
    .option('--no-progress', 'no progress bar, even on a terminal')
    .option('--quiet', 'no summary on standard error', false)
    .action(async (events, flags) => (await import('./replay.js')).replayCommand(events, flags));

  program
    .command('backtest')
    .description('Run one or two rule sets over a recorded log: alerts per detector, and with --labels precision and recall.')
    .argument('<events>', 'event log path (JSON lines; read once per rule set)')
    .option('--rules <file>', 'rules YAML, side A (default: built-in defaults, identical to rules/default.yaml)')
    .option('--compare <file>', 'rules YAML, side B: scored beside A, with the alert diff')
    .option('--labels <file>', 'labels JSON (as written by `fraudwatch generate`): precision, recall, missed incidents')
    .option('--report <file>', 'also write a self-contained HTML report here')
    .addOption(new Option('--slack <duration>', 'an alert matches a label up to this long before its start or after its end').default(3_600_000, '1h').argParser(durationFlag))
    .addOption(new Option('--examples <n>', 'unexplained alerts shown per detector').default(3).argParser(intFlag(0, 1000)))
    .addOption(new Option('--lateness <duration>', 'override the rules\' reorder lateness, as in replay').argParser(latenessFlag))
    .action(async (events, flags) => (await import('./backtest.js')).backtestCommand(events, flags));

  program
    .command('validate')
    .description('Check a rules file: print every error with file:line:col and exit 1, or print the effective rules.')
    .argument('<rules>', 'rules YAML path, or - for standard input')
    .action(async (file) => (await import('./validate.js')).validateCommand(file));

  program
    .command('schema')
    .description('Print the JSON Schema of the rules file (for editors: fraudwatch schema > fraudwatch-rules.schema.json).')
    .action(async () => (await import('./schema.js')).schemaCommand());

  addRunFlags(
    program
      .command('run')
      .description('Run the daemon: consume events from Kafka, produce alerts, dead-letter invalid records.'),
  ).action(async (flags) => (await import('./run.js')).runCommand(flags));

  program
    .command('generate')
    .description('Write a seeded synthetic log (events.jsonl) and its incident labels (labels.json).')
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .addOption(new Option('--seed <n>', 'random seed: the same seed gives the same bytes').default(1).argParser(intFlag(0, 2 ** 31 - 1)))
    .addOption(new Option('--accounts <n>', 'number of accounts').default(1000).argParser(intFlag(1, 10_000_000)))
    .addOption(new Option('--days <n>', 'days of activity').default(14).argParser(intFlag(1, 365)))
    .option('--demo', 'use the small demo preset (the fixtures/demo log)', false)
    .option('--no-incidents', 'background traffic and traps only')
    .option('--no-noise', 'no duplicates, disorder or invalid lines')
    .action(async (flags) => (await import('./generate.js')).generateCommand(flags));

  return program;
}

/** Runs the CLI; resolves to the process exit code. Errors become one clear line, not a stack. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; their exit code is 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof RulesError) {
      // A bad rules file given to replay, run or backtest is a configuration error (exit 2);
      // `validate`, whose job is to judge the file, reports its findings with exit 1 itself.
      process.stderr.write(`${err.issues.map(formatRulesIssue).join('\n')}\n${err.total} error(s) in rules\n`);
      return EXIT.USAGE;
    }
    if (err instanceof FraudwatchError) {
      process.stderr.write(`fraudwatch: ${err.code}: ${err.message}\n`);
      return err.code === 'FW_INPUT_INVALID' ? EXIT.REJECTED : EXIT.USAGE;
    }
    throw err;
  }
}
