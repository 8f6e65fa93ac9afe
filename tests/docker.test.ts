import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The Dockerfile and docker-compose.yml, read as text: no Docker engine is needed (CI machines
 * and most developers' have none), so what can be checked without building is checked here.
 */

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Flags such as --start-period=60s, for HEALTHCHECK. */
  readonly flags: Readonly<Record<string, string>>;
}

/** Instructions per build stage, continuation lines joined and comments dropped. */
function dockerfile(text: string): Instruction[][] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Instruction[][] = [];
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s+(.*)$/.exec(line)!;
    const flags: Record<string, string> = {};
    let args = rest!;
    if (keyword!.toUpperCase() === 'HEALTHCHECK') {
      for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(args); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(args)) {
        flags[m[1]!] = m[2]!;
        args = args.slice(m[0].length);
      }
    }
    const ins = { keyword: keyword!.toUpperCase(), args, flags };
    if (ins.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1]!.push(ins);
  }
  return stages;
}

/** An exec-form argument list (`["node", "x"]`), or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

/** ENV in both its forms: `ENV A=1 B=2` and the legacy `ENV A 1`. */
function envOf(stage: readonly Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stage.filter((i) => i.keyword === 'ENV')) {
    if (/^\S+=/.test(ins.args)) for (const m of ins.args.matchAll(/(\S+?)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    else {
      const [k, ...v] = ins.args.split(/\s+/);
      env[k!] = v.join(' ');
    }
  }
  return env;
}

/** The probe reads the port from the environment when it runs, and asks /readyz. */
function probesReadyzOnEnvPort(command: string): void {
  expect(command).toContain('/readyz');
  expect(command).toMatch(/process\.env\.FRAUDWATCH_HTTP_PORT|\$\{?FRAUDWATCH_HTTP_PORT/);
  expect(command).not.toMatch(/:9464\//);
}

const stages = dockerfile(readFileSync('Dockerfile', 'utf8'));
const final = stages[stages.length - 1]!;
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, { ports?: (string | { host_ip?: string; published?: string | number })[]; volumes?: (string | { type?: string; source?: string; target: string })[]; environment?: Record<string, string>; healthcheck?: { test: string[] | string; start_period?: string } }>;
  volumes?: Record<string, unknown>;
};

describe('Dockerfile', () => {
  it('is based on a supported Node LTS, slim Debian', () => {
    for (const stage of stages) expect(stage[0]!.args).toMatch(/^node:(22|24)-bookworm-slim\b/);
  });

  it('starts node itself, in exec form, with no rules flag: the rules come from FRAUDWATCH_RULES', () => {
    const cmd = final.filter((i) => i.keyword === 'CMD');
    expect(cmd).toHaveLength(1);
    // With the node flags the `fraudwatch` command runs with (the launcher's #! line).
    const shebang = readFileSync('bin/fraudwatch.js', 'utf8').split('\n', 1)[0]!;
    const flags = /^#!\/usr\/bin\/env -S node((?: --[a-z-]+=\S+)*)$/.exec(shebang)?.[1]?.trim().split(' ') ?? [];
    expect(flags).toContain('--max-semi-space-size=64');
    expect(execForm(cmd[0]!.args)).toEqual(['node', ...flags, 'bin/fraudwatch.js', 'run']);
    // An ENTRYPOINT of its own could put a shell or npm in front of node, or add flags.
    expect(final.filter((i) => i.keyword === 'ENTRYPOINT')).toEqual([]);
    for (const ins of final) expect(ins.args).not.toMatch(/--rules\b/);
  });

  it('sets the default rules with ENV, a file the image contains', () => {
    const rules = envOf(final).FRAUDWATCH_RULES;
    expect(rules).toBe('/app/rules/default.yaml');
    const workdir = final.find((i) => i.keyword === 'WORKDIR')!.args;
    const copiesRules = final.some((i) => i.keyword === 'COPY' && /^rules\s+(\.\/)?rules\/?$/.test(i.args));
    expect(copiesRules).toBe(true);
    expect(existsSync(posix.relative(workdir, rules!))).toBe(true);
  });

  it('probes /readyz on FRAUDWATCH_HTTP_PORT, with a start period', () => {
    const hc = final.filter((i) => i.keyword === 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]!.flags['start-period']).toMatch(/^\d+[sm]$/);
    probesReadyzOnEnvPort(hc[0]!.args);
    expect(envOf(final).FRAUDWATCH_HTTP_PORT).toBe('9464');
  });

  it('installs dependencies before copying the code, and still applies the patches and builds', () => {
    const build = stages[0]!;
    const npmCi = build.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    const copySrc = build.findIndex((i) => i.keyword === 'COPY' && /^src\b/.test(i.args));
    expect(npmCi).toBeGreaterThan(-1);
    expect(copySrc).toBeGreaterThan(npmCi);
    // Only what npm ci needs comes before it.
    for (const ins of build.slice(0, npmCi).filter((i) => i.keyword === 'COPY')) {
      expect(ins.args).toMatch(/^(package(\*|\.json)|package-lock\.json|patches)\b/);
    }
    // "prepare" (the build) cannot run before src/ is there, so npm ci skips scripts; then the
    // postinstall (patch-package) runs by hand, and the build after the code is copied.
    const install = build[npmCi]!.args;
    expect(install).toContain('--ignore-scripts');
    expect(install).toMatch(/npm run postinstall|patch-package/);
    expect(build.slice(copySrc).some((i) => i.keyword === 'RUN' && /npm run build/.test(i.args))).toBe(true);
  });

  it('runs as the unprivileged node user', () => {
    const users = final.filter((i) => i.keyword === 'USER');
    expect(users.map((u) => u.args)).toEqual(['node']);
    expect(final.findIndex((i) => i.keyword === 'USER')).toBeLessThan(final.findIndex((i) => i.keyword === 'CMD'));
  });
});

describe('docker-compose.yml', () => {
  const services = compose.services;

  it('publishes ports on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
    expect(published.length).toBeGreaterThan(0);
    for (const [name, p] of published) {
      const hostIp = typeof p === 'string' ? (p.split(':').length === 3 ? p.split(':')[0] : undefined) : p.host_ip;
      expect(hostIp, `${name}: ${JSON.stringify(p)}`).toBe('127.0.0.1');
    }
  });

  it("keeps Kafka's data on a named volume", () => {
    const kafka = services.kafka!;
    const dataDir = kafka.environment?.KAFKA_LOG_DIRS;
    expect(dataDir).toBeDefined();
    const mount = (kafka.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0]!, target: v.split(':')[1]! } : { source: v.source ?? '', target: v.target }));
    const data = mount.find((m) => m.target === dataDir);
    expect(data, `a volume on ${dataDir}`).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(data!.source);
  });

  it("mounts the rules directory, so the daemon's FRAUDWATCH_RULES can be swapped and is hot-reloaded", () => {
    const fw = services.fraudwatch!;
    const rules = fw.environment?.FRAUDWATCH_RULES;
    expect(rules).toBeDefined();
    const targets = (fw.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1]! : v.target));
    // The directory, not the file: an edited file replaced by rename stays visible, and the
    // daemon's watch is on the directory.
    expect(targets).toContain(posix.dirname(rules!));
  });

  it('gives every healthcheck a start period, and probes /readyz on the env port for the daemon', () => {
    const checked = Object.entries(services).filter(([, s]) => s.healthcheck !== undefined);
    expect(checked.map(([name]) => name).sort()).toEqual(['fraudwatch', 'kafka']);
    for (const [name, s] of checked) expect(s.healthcheck!.start_period, name).toMatch(/^\d+[sm]$/);
    const test = services.fraudwatch!.healthcheck!.test;
    probesReadyzOnEnvPort(Array.isArray(test) ? test.join(' ') : test);
  });
});
