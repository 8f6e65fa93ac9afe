import { effectiveYaml, loadRulesFile } from '../config/rules.js';
import { formatRulesIssue, RulesError } from '../errors.js';

/** `fraudwatch validate <rules>`: every problem with file:line:col (exit 1), or the effective rules (exit 0). */
export function validateCommand(file: string): void {
  try {
    const rules = loadRulesFile(file);
    process.stdout.write(effectiveYaml(rules));
    process.stderr.write(`${file}: OK (${rules.detectors.length} detectors enabled, rulesVersion ${rules.version})\n`);
  } catch (err) {
    if (!(err instanceof RulesError)) throw err;
    for (const issue of err.issues) process.stdout.write(formatRulesIssue(issue) + '\n');
    process.stderr.write(`${file}: ${err.issues.length} error(s)\n`);
    process.exitCode = 1;
  }
}
