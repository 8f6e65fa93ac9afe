import { defaultRules, loadRulesFile, type Rules } from '../config/rules.js';

/** `--rules FILE`, or the built-in defaults (the same values as rules/default.yaml). */
export function rulesFromFlag(path: string | undefined): Rules {
  return path === undefined ? defaultRules() : loadRulesFile(path);
}

export function rulesLabel(rules: Rules): string {
  return `${rules.source} (rulesVersion ${rules.version})`;
}
