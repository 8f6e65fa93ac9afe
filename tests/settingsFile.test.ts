import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addRunFlags } from '../src/cli/runFlags.js';
import { CONFIG_ENV, describeConfig, kebab, readSettingsFile, resolveDaemonConfig, SETTINGS, type RunFlags } from '../src/daemon/config.js';
import { FraudwatchError } from '../src/errors.js';

/** The daemon's settings file (`fraudwatch run --config FILE`, FRAUDWATCH_CONFIG). */

const dir = mkdtempSync(join(tmpdir(), 'fw-settings-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** Flags as `fraudwatch run` parses them. */
function flags(argv: string[]): RunFlags {
  return addRunFlags(new Command('run').exitOverride()).parse(argv, { from: 'user' }).opts();
}

/** The FW_CLI_BAD_FLAG message resolveDaemonConfig throws. */
function problems(f: RunFlags, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveDaemonConfig(f, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FraudwatchError);
    expect((err as FraudwatchError).code).toBe('FW_CLI_BAD_FLAG');
    return (err as Error).message;
  }
  throw new Error('expected the settings to be refused');
}

describe('settings file: precedence', () => {
  const settings = file(
    'precedence.yaml',
    ['brokers: file-broker:9092', 'groupId: from-file', 'inputTopic: from-file', 'clientId: from-file', 'httpPort: 9500', ''].join('\n'),
  );

  it('flags win over environment variables, which win over the file, which wins over defaults', () => {
    const env = { FRAUDWATCH_GROUP_ID: 'from-env', FRAUDWATCH_INPUT_TOPIC: 'from-env' };
    const c = resolveDaemonConfig(flags(['--config', settings, '--input-topic', 'from-flag']), env);
    expect(c).toMatchObject({
      inputTopic: 'from-flag', // flag over environment and file
      groupId: 'from-env', // environment over file
      clientId: 'from-file',
      brokers: ['file-broker:9092'],
      httpPort: 9500,
      alertsTopic: 'fraud-alerts', // default: no source gives it
      dlqTopic: 'from-flag.dlq', // derived from the winning value
      settingsFile: settings,
    });
  });

  it('FRAUDWATCH_CONFIG names the file when --config does not; --config wins', () => {
    const other = file('other.yaml', 'groupId: other\n');
    expect(resolveDaemonConfig({}, { [CONFIG_ENV]: settings }).groupId).toBe('from-file');
    expect(resolveDaemonConfig(flags(['--config', other]), { [CONFIG_ENV]: settings }).groupId).toBe('other');
    expect(resolveDaemonConfig({}, {}).settingsFile).toBeUndefined();
  });

  it('an empty variable or flag is not given: the file decides', () => {
    expect(resolveDaemonConfig(flags(['--config', settings]), { FRAUDWATCH_GROUP_ID: '' }).groupId).toBe('from-file');
    expect(resolveDaemonConfig(flags(['--config', settings, '--group-id', '']), {}).groupId).toBe('from-file');
  });

  it('takes numbers, true/false, a list of brokers, and an empty value as unset', () => {
    const typed = file(
      'typed.yaml',
      ['brokers:', '  - a:9092', '  - b:9093', 'fromBeginning: false', 'tls: yes', 'topicPartitions: 12', 'lateness: 0s', 'sessionTimeout: 1m', 'shadowTopic:', ''].join('\n'),
    );
    const c = resolveDaemonConfig(flags(['--config', typed]), {});
    expect(c).toMatchObject({ brokers: ['a:9092', 'b:9093'], fromBeginning: false, topicPartitions: 12, latenessMs: 0, sessionTimeoutMs: 60_000, shadowTopic: 'fraud-alerts.shadow' });
    expect(c.tls).toMatchObject({ rejectUnauthorized: true });
  });

  it('reads relative paths in the file from the file’s directory', () => {
    const nested = file('conf/fraudwatch.yaml', 'rules: rules/prod.yaml\nsaslPasswordFile: /run/secrets/pw\n');
    expect(readSettingsFile(nested).values).toMatchObject({ rules: { text: join(dir, 'conf/rules/prod.yaml') }, saslPasswordFile: { text: '/run/secrets/pw' } });
    const rulesOnly = file('conf/rules-only.yaml', 'rules: rules/prod.yaml\n');
    expect(resolveDaemonConfig(flags(['--config', rulesOnly]), {}).rulesFile).toBe(join(dir, 'conf/rules/prod.yaml'));
    // A flag's relative path stays as given (read from the working directory).
    expect(resolveDaemonConfig(flags(['--config', rulesOnly, '--rules', 'r.yaml']), {}).rulesFile).toBe('r.yaml');
  });

  it('accepts every setting by its name, except the password itself', () => {
    const names = Object.keys(SETTINGS).filter((n) => n !== 'saslPassword');
    const all = file('all.yaml', names.map((n) => `${n}:`).join('\n'));
    expect(readSettingsFile(all).problems).toEqual([]);
  });
});

describe('settings file: validation', () => {
  it('locates every problem at file:line:col with its code, in file order, and the same messages flags get', () => {
    const bad = file('bad.yaml', ['brokers: kafka:9092', 'lateness: 2h', 'httpPort: 70000', 'processing: twice-only', 'idleTimeout: 30', ''].join('\n'));
    const msg = problems(flags(['--config', bad]));
    expect(msg).toContain(`4 problem(s) in the settings file ${bad}:`);
    const lines = msg.split('\n').slice(1);
    expect(lines[0]).toBe(`${bad}:2:11 FW_CLI_BAD_FLAG lateness: 2h is outside 0s..1h (the same range as lateness in a rules file)`);
    expect(lines[1]).toMatch(new RegExp(`^${bad}:3:11 FW_CLI_BAD_FLAG httpPort: `));
    expect(lines[2]).toMatch(new RegExp(`^${bad}:4:13 FW_CLI_BAD_FLAG processing: `));
    expect(lines[3]).toBe(`${bad}:5:14 FW_CLI_BAD_FLAG idleTimeout: 30 has no unit: write a duration with a unit, e.g. 30s`);
    // The same check as the flag's and the variable's: one schema.
    expect(problems(flags(['--lateness', '2h']))).toContain('--lateness / FRAUDWATCH_LATENESS: 2h is outside 0s..1h (the same range as lateness in a rules file)');
    // A flag that overrides a bad value in the file wins: the file's value is never used.
    expect(() => resolveDaemonConfig(flags(['--config', file('port.yaml', 'httpPort: eighty\n'), '--http-port', '9000']), {})).not.toThrow();
  });

  it('reports problems from flags and from the file together', () => {
    const msg = problems(flags(['--config', file('mixed.yaml', 'lateness: 2h\n'), '--log-level', 'loud']));
    expect(msg).toContain('--log-level / FRAUDWATCH_LOG_LEVEL: ');
    expect(msg).toContain('mixed.yaml:1:11 FW_CLI_BAD_FLAG lateness: 2h is outside 0s..1h');
  });

  it('refuses unknown keys, and says how names are spelled when a flag’s spelling is used', () => {
    const unknown = file('unknown.yaml', ['input-topic: events', 'inputTopik: events', 'input_topic: events', 'config: other.yaml', ''].join('\n'));
    const msg = problems(flags(['--config', unknown]));
    expect(msg).toContain(`${unknown}:1:1 FW_CLI_BAD_FLAG input-topic: unknown setting "input-topic" (settings files spell names in camelCase, as the rules file does: inputTopic)`);
    expect(msg).toContain(`${unknown}:2:1 FW_CLI_BAD_FLAG inputTopik: unknown setting "inputTopik"\n`);
    expect(msg).toContain(`${unknown}:3:1 FW_CLI_BAD_FLAG input_topic: unknown setting "input_topic" (settings files spell names in camelCase`);
    expect(msg).toContain(`${unknown}:4:1 FW_CLI_BAD_FLAG config: unknown setting "config" (a settings file cannot name another one)`);
  });

  it('locates YAML syntax errors, duplicate keys, a file that is not a map, and values that are maps', () => {
    expect(problems(flags(['--config', file('syntax.yaml', 'brokers: [a:1\n')]))).toMatch(/syntax\.yaml:2:1 FW_CLI_BAD_FLAG .*\]/);
    expect(problems(flags(['--config', file('dup.yaml', 'groupId: a\ngroupId: b\n')]))).toMatch(/dup\.yaml:2:1 FW_CLI_BAD_FLAG Map keys must be unique/);
    expect(problems(flags(['--config', file('list.yaml', '- brokers\n')]))).toContain('list.yaml:1:1 FW_CLI_BAD_FLAG expected a map of settings');
    expect(problems(flags(['--config', file('map.yaml', 'groupId:\n  name: x\n')]))).toContain('map.yaml:2:3 FW_CLI_BAD_FLAG groupId: expected a string, a number or true/false');
    // Empty, or comments only: no settings, no error.
    expect(resolveDaemonConfig(flags(['--config', file('empty.yaml', '# nothing yet\n')]), {}).groupId).toBe('fraudwatch');
  });

  it('says when the file cannot be read, naming the flag and the variable', () => {
    expect(problems(flags(['--config', join(dir, 'missing.yaml')]))).toMatch(/settings file \(--config \/ FRAUDWATCH_CONFIG\) .*missing\.yaml: ENOENT/);
  });
});

describe('settings file: secrets', () => {
  const secret = 'hunter2-s3cret';

  it('refuses a password in the file without echoing it', () => {
    const msg = problems(flags(['--config', file('password.yaml', `saslMechanism: plain\nsaslUsername: svc\nsaslPassword: ${secret}\n`)]));
    expect(msg).toContain('password.yaml:3:1 FW_CLI_BAD_FLAG saslPassword: a password does not belong in a settings file: use saslPasswordFile');
    expect(msg).not.toContain(secret);
  });

  it('never echoes a value it refuses', () => {
    const msg = problems(flags(['--config', file('echo.yaml', `brokers: ${secret}\ngroupId: [${secret}]\nsaslMechanism: ${secret}\n`)]));
    expect(msg.split('\n')).toHaveLength(4);
    expect(msg).not.toContain(secret);
    const syntax = problems(flags(['--config', file('echo-syntax.yaml', `saslUsername: "${secret}\n`)]));
    expect(syntax).toMatch(/echo-syntax\.yaml:\d+:\d+ FW_CLI_BAD_FLAG Missing closing "quote/);
    expect(syntax).not.toContain(secret);
  });

  it('reads saslPasswordFile (relative to the file), trims it, and never logs it; a password given directly wins', () => {
    file('secrets/sasl-password', `${secret}\n`);
    const settings = file('sasl.yaml', 'saslMechanism: scram-sha-512\nsaslUsername: svc\nsaslPasswordFile: secrets/sasl-password\n');
    const c = resolveDaemonConfig(flags(['--config', settings]), {});
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: secret });
    expect(JSON.stringify(describeConfig(c))).not.toContain(secret);
    expect(resolveDaemonConfig(flags(['--config', settings]), { FRAUDWATCH_SASL_PASSWORD: 'direct' }).sasl?.password).toBe('direct');
    // The variable and the flag for the file work as before, and above the settings file.
    const other = file('secrets/other', 'other\n');
    expect(resolveDaemonConfig(flags(['--config', settings]), { FRAUDWATCH_SASL_PASSWORD_FILE: other }).sasl?.password).toBe('other');
    expect(resolveDaemonConfig(flags(['--config', settings, '--sasl-password-file', other]), {}).sasl?.password).toBe('other');
  });

  it('names where a missing password file was set, never its contents', () => {
    const settings = file('sasl-missing.yaml', 'saslMechanism: plain\nsaslUsername: svc\nsaslPasswordFile: /nonexistent/pw\n');
    expect(problems(flags(['--config', settings]))).toMatch(/sasl-missing\.yaml:3:19 saslPasswordFile \/nonexistent\/pw: ENOENT/);
  });
});

describe('fraudwatch run --config (built CLI)', () => {
  it('stops before connecting, exit 2, with the located problems on standard error', () => {
    const bad = file('cli.yaml', 'brokers: 127.0.0.1:1\ninput-topic: events\nlateness: 2h\n');
    const r = spawnSync(process.execPath, ['bin/fraudwatch.js', 'run', '--config', bad], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:2:1 FW_CLI_BAD_FLAG input-topic: unknown setting "input-topic"`);
    expect(r.stderr).toContain(`${bad}:3:11 FW_CLI_BAD_FLAG lateness: 2h is outside 0s..1h`);
    const env = spawnSync(process.execPath, ['bin/fraudwatch.js', 'run'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FRAUDWATCH_CONFIG: bad } });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain(`${bad}:3:11 FW_CLI_BAD_FLAG lateness`);
  });
});

describe('docs/settings.md', () => {
  const doc = readFileSync('docs/settings.md', 'utf8');

  it('lists every setting with its file key, flag and variable, and nothing else', () => {
    const rows = [...doc.matchAll(/^\| (`[a-zA-Z]+`|\(not in a file\)) \| `(--[a-z-]+)` \| `(FRAUDWATCH_[A-Z_]+)` \|/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(rows).toEqual(
      Object.entries(SETTINGS).map(([name, [envName]]) => [name === 'saslPassword' ? '(not in a file)' : `\`${name}\``, `--${kebab(name)}`, envName]),
    );
  });

  it("shows a settings file the daemon reads without a problem", () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const p = file('doc-example.yaml', example);
    expect(readSettingsFile(p).problems).toEqual([]);
    // The password file does not exist here; everything else resolves.
    expect(resolveDaemonConfig(flags(['--config', p]), { FRAUDWATCH_SASL_PASSWORD: 'x' })).toMatchObject({ processing: 'exactly_once', brokers: ['kafka-0.kafka:9092', 'kafka-1.kafka:9092'], rulesFile: join(dir, 'rules.yaml') });
  });
});
