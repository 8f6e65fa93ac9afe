import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { latenessFlag } from '../src/cli/main.js';
import { addRunFlags } from '../src/cli/runFlags.js';
import { LATENESS_BOUNDS, parseDuration } from '../src/config/duration.js';
import { parseRules } from '../src/config/rules.js';
import { resolveDaemonConfig } from '../src/daemon/config.js';
import { login } from './helpers.js';

/** The CLI as users run it (built by `npm test` before the tests). */
function cli(args: string[], input?: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['bin/fraudwatch.js', ...args], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'fw-cli-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const attack = Array.from({ length: 10 }, (_, i) => JSON.stringify(login('cli-acc', i * 10_000, '198.51.100.1', false)));
const log = file('events.jsonl', [...attack, 'not json', JSON.stringify({ eventId: 'q', type: 'login' }), ''].join('\n'));

describe('fraudwatch CLI', () => {
  it('validate prints every error with file:line:col and exits 1', () => {
    const bad = file('bad.yaml', 'cooldown: 30m\ndetectors:\n  brute_force:\n    treshold: 3\n  geo_surge:\n    minCountries: 0\n');
    const r = cli(['validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${bad}:4:5 FW_RULES_UNKNOWN_KEY detectors.brute_force.treshold: unknown key "treshold"`);
    expect(r.stdout).toMatch(new RegExp(`${bad}:6:19 FW_RULES_INVALID_VALUE detectors.geo_surge.minCountries`));
    expect(r.stderr).toContain('2 error(s)');
  });

  it('validate prints the effective rules of a valid file and exits 0', () => {
    const r = cli(['validate', 'rules/default.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# rulesVersion: [0-9a-f]{12}/);
    expect(r.stdout).toContain('impossible_travel:');
    expect(r.stdout).toContain('lateness: 30s');
  });

  it('replay writes alerts as JSON lines and a summary on stderr, and exits 0 despite invalid lines', () => {
    const r = cli(['replay', log]);
    expect(r.code).toBe(0);
    const alerts = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(alerts.map((a) => [a.detector, a.accountId])).toEqual([['brute_force', 'cli-acc']]);
    expect(r.stderr).toMatch(/lines read\s+12/);
    expect(r.stderr).toMatch(/invalid\s+2\s+\(invalid_json 1, missing_field 1\)/);
    expect(r.stderr).toMatch(/alerts\s+1\s+\(brute_force 1\)/);
    expect(r.stderr).toMatch(/events\/s/);
    expect(r.stderr).toContain(':11: invalid_json');
  });

  it('two replays of the same log are byte-identical, from a file or from stdin', () => {
    const a = cli(['replay', log]).stdout;
    const b = cli(['replay', '-'], readFileSync(log, 'utf8')).stdout;
    expect(a.length).toBeGreaterThan(100);
    expect(b).toBe(a);
  });

  it('--out and --invalid-out write files; --strict stops at the first invalid line with exit 1', () => {
    const out = join(dir, 'alerts.jsonl');
    const inv = join(dir, 'invalid.jsonl');
    expect(cli(['replay', log, '--out', out, '--invalid-out', inv, '--quiet']).code).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readFileSync(inv, 'utf8').trim().split('\n').map((l) => JSON.parse(l).line)).toEqual([11, 12]);
    const strict = cli(['replay', log, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('FW_INPUT_INVALID');
    expect(strict.stderr).toContain('line 11');
  });

  it('rejects bad flags and missing files with exit 2 and a clear message', () => {
    const r1 = cli(['replay', log, '--lateness', 'soon']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('is not a duration');
    const r2 = cli(['replay', join(dir, 'missing.jsonl')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('FW_INPUT_READ');
    const r3 = cli(['replay', log, '--rules', join(dir, 'missing.yaml')]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('FW_RULES_READ');
    expect(cli(['frobnicate']).code).toBe(2);
  });
});

/** Is util-linux `script` here to give the CLI a terminal? */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasScript) console.warn('*** SKIPPED: progress bar test: no `script` (util-linux) to run the CLI on a terminal ***');

/**
 * The screen a terminal would show for `raw`: just the control sequences cli-progress and
 * node:readline write (cursor column, erase in line, cursor up/down, save/restore), rows as
 * long as they need to be (the test keeps lines shorter than the terminal).
 */
function screen(raw: string): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = () => (rows[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\x1b') {
      if (raw[i + 1] === '7') saved = { row, col };
      if (raw[i + 1] === '8') ({ row, col } = saved);
      if (raw[i + 1] !== '[') {
        i++;
        continue;
      }
      const m = /^\[(\??)(\d*)(?:;\d*)*([A-Za-z])/.exec(raw.slice(i + 1))!;
      i += m[0].length;
      if (m[1] === '?') continue;
      const n = m[2] === '' ? undefined : Number(m[2]);
      if (m[3] === 'G') col = (n ?? 1) - 1;
      else if (m[3] === 'A') row = Math.max(0, row - (n ?? 1));
      else if (m[3] === 'B') row += n ?? 1;
      else if (m[3] === 'K') {
        if ((n ?? 0) === 0) line().length = Math.min(line().length, col);
        else if (n === 1) line().fill(' ', 0, col + 1);
        else rows[row] = [];
      } else if (m[3] === 'J') rows.length = row + 1;
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') row++;
    else {
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return Array.from(rows, (r) => (r ?? []).join('').trimEnd());
}

describe('fraudwatch CLI: operators', () => {
  it('validate - reads the rules from standard input', () => {
    const ok = cli(['validate', '-'], readFileSync('rules/default.yaml', 'utf8'));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('lateness: 30s');
    expect(ok.stderr).toMatch(/^<stdin>: OK/);
    const bad = cli(['validate', '-'], 'detectors:\n  brute_force:\n    treshold: 3\n');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('<stdin>:3:5 FW_RULES_UNKNOWN_KEY detectors.brute_force.treshold');
  });

  it('replay and backtest of a directory say which path is a directory, with the I/O error code', () => {
    for (const command of ['replay', 'backtest']) {
      const r = cli([command, dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`FW_INPUT_READ: cannot read the event log: ${dir} is a directory`);
      expect(r.stderr).not.toContain('EISDIR');
    }
  });

  it('a duration written as a bare number gets a hint to add a unit, in a rules file and on the command line', () => {
    const rules = file('bare.yaml', 'cooldown: 30\ndetectors:\n  brute_force:\n    window: 600\n');
    const r = cli(['validate', rules]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${rules}:1:11 FW_RULES_INVALID_VALUE cooldown: 30 has no unit: write a duration with a unit, e.g. 30s`);
    expect(r.stdout).toContain(`${rules}:4:13 FW_RULES_INVALID_VALUE detectors.brute_force.window: 600 has no unit: write a duration with a unit, e.g. 600s`);
    const flag = cli(['replay', log, '--lateness', '30']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('30 has no unit: write a duration with a unit, e.g. 30s');
  });

  it('--lateness has the bounds lateness has in a rules file, on every command and in FRAUDWATCH_LATENESS', () => {
    // One limit: the rules file takes exactly the bounds, and nothing past them.
    const [, max] = LATENESS_BOUNDS;
    const over = `${parseDuration(max) / 1000 + 1}s`;
    expect(parseRules(`lateness: ${max}\n`).latenessMs).toBe(parseDuration(max));
    expect(() => parseRules(`lateness: ${over}\n`)).toThrow(`${over} is outside 0s..${max}`);
    expect(latenessFlag(max)).toBe(parseDuration(max));
    expect(() => latenessFlag(over)).toThrow(`${over} is outside 0s..${max}`);

    for (const command of ['replay', 'backtest']) {
      const r = cli([command, log, '--lateness', '2h']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('2h is outside 0s..1h (the same range as lateness in a rules file)');
    }
    // Port 1: should the check ever be skipped, the daemon finds no broker rather than someone's.
    const run = cli(['run', '--brokers', '127.0.0.1:1', '--http-port', '0', '--lateness', '2h']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('FW_CLI_BAD_FLAG');
    expect(run.stderr).toContain('--lateness / FRAUDWATCH_LATENESS: 2h is outside 0s..1h');
    const env = cli(['run', '--brokers', '127.0.0.1:1', '--http-port', '0'], undefined, { FRAUDWATCH_LATENESS: '90m' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('--lateness / FRAUDWATCH_LATENESS: 90m is outside 0s..1h');
  });

  it('run accepts on/off flags alone (--tls), and still --tls=false and --tls false', () => {
    const parse = (argv: string[]) => addRunFlags(new Command('run').exitOverride()).parse(argv, { from: 'user' }).opts();
    expect(resolveDaemonConfig(parse(['--tls']), {}).tls).toEqual({ ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true });
    expect(resolveDaemonConfig(parse(['--tls=false']), {}).tls).toBeUndefined();
    expect(resolveDaemonConfig(parse(['--tls', 'false']), {}).tls).toBeUndefined();
    expect(resolveDaemonConfig(parse(['--tls', '--tls-reject-unauthorized', 'false']), {}).tls).toMatchObject({ rejectUnauthorized: false });
    expect(resolveDaemonConfig(parse(['--from-beginning', '--brokers', 'b:9092']), {})).toMatchObject({ fromBeginning: true, brokers: ['b:9092'] });
    expect(resolveDaemonConfig(parse(['--from-beginning=false']), {}).fromBeginning).toBe(false);
    expect(resolveDaemonConfig(parse([]), { FRAUDWATCH_TLS: 'true' }).tls).toBeDefined();
    // The built CLI: a bare --tls does not swallow the next flag (which then stops the start).
    const r = cli(['run', '--tls', '--brokers', '127.0.0.1:1', '--lateness', '2h']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('2h is outside 0s..1h');
  });

  it.skipIf(!hasScript)('prints warnings above the progress bar, not over it', () => {
    // Over 20 MB, so the bar is drawn; blank lines are cheap to read. The invalid lines come
    // half way through, while the bar is on screen.
    const big = join(dir, 'big.jsonl');
    const blank = `${' '.repeat(999)}\n`.repeat(1000);
    const bad = ['not json 0', 'not json 1', 'not json 2'];
    writeFileSync(big, '');
    for (let i = 0; i < 21; i++) appendFileSync(big, i === 10 ? `${blank}${bad.join('\n')}\n` : blank);
    try {
      const command = `stty cols 250; exec '${process.execPath}' bin/fraudwatch.js replay '${big}' --out /dev/null`;
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(0);
      const lines = screen(r.stdout);
      const warnings = lines.filter((l) => l.includes(': invalid_json: '));
      expect(warnings).toEqual(bad.map((text, i) => `${big}:${11_001 + i}: invalid_json: not JSON: Unexpected token 'o', "${text}" is not valid JSON`));
      const bar = lines.findIndex((l) => /^replay \[.*\] \d+% \| \d+\/\d+ MB/.test(l));
      const title = lines.indexOf(`fraudwatch replay: ${big}`);
      expect(bar).toBeGreaterThan(lines.indexOf(warnings[2]!));
      expect(lines[bar]).toContain('] 100% | 21/21 MB');
      expect(title).toBeGreaterThan(bar);
      expect(lines[title + 1]).toMatch(/^ {2}lines read +21,003$/);
    } finally {
      rmSync(big, { force: true });
    }
  });
});
