import { readFileSync } from 'node:fs';
import { effectiveYaml, loadRulesFile, parseRules, type Rules } from '../config/rules.js';
import { FraudwatchError, formatRulesIssue, RulesError } from '../errors.js';

/** How problems in rules read from standard input are located: `<stdin>:4:5 …`. */
const STDIN_NAME = '<stdin>';

/** `-` reads the rules from standard input (as `replay -` reads events), e.g. from a generator or a pipe. */
function loadRules(file: string): Rules {
  if (file !== '-') return loadRulesFile(file);
  let text: string;
  try {
    // fd 0 read directly: touching process.stdin could switch a pipe to non-blocking (EAGAIN).
    text = readFileSync(0, 'utf8');
  } catch (err) {
    throw new FraudwatchError('FW_RULES_READ', `standard input: ${(err as Error).message}`, { path: '-' }, { cause: err });
  }
  return parseRules(text, STDIN_NAME);
}

/** `fraudwatch validate <rules|->`: every problem with file:line:col (exit 1), or the effective rules (exit 0). */
export function validateCommand(file: string): void {
  const name = file === '-' ? STDIN_NAME : file;
  try {
    const rules = loadRules(file);
    process.stdout.write(effectiveYaml(rules));
    process.stderr.write(`${name}: OK (${rules.detectors.length} detectors enabled, rulesVersion ${rules.version})\n`);
  } catch (err) {
    if (!(err instanceof RulesError)) throw err;
    for (const issue of err.issues) process.stdout.write(formatRulesIssue(issue) + '\n');
    process.stderr.write(`${name}: ${err.total} error(s)\n`);
    process.exitCode = 1;
  }
}
