import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadRulesFile, parseRules } from '../src/config/rules.js';
import { CONFIG_ENV, resolveDaemonConfig, SETTINGS, type DaemonConfig } from '../src/daemon/config.js';
import { startHttp } from '../src/daemon/http.js';
import { SHUTDOWN_DEADLINE_MS, watchRulesFile } from '../src/daemon/lifecycle.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { Stats } from '../src/engine/stats.js';

/**
 * deploy/kubernetes: every manifest is valid against the Kubernetes API schemas (the
 * kubernetes-models package, with no field its schema does not know), and what the manifests
 * say about the daemon (environment variables, port, probe paths, rules path, shutdown time)
 * matches the daemon's own code, read from src/, never from a copy.
 */

const ROOT = 'deploy/kubernetes';
/** The two ways to run it, each a kustomization. */
const APPS = { 'at-least-once': 'at_least_once', 'exactly-once': 'exactly_once' } as const;

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };
interface Container {
  name: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}

const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
}

/** The objects a kustomization applies, following `resources` into other kustomizations. */
function kustomize(dir: string, seen: Set<string>): Obj[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string; resources: string[] };
  expect(k.kind).toBe('Kustomization');
  seen.add(join(dir, 'kustomization.yaml'));
  return k.resources.flatMap((r) => {
    const path = join(dir, r);
    if (!r.endsWith('.yaml')) return kustomize(path, seen);
    seen.add(path);
    return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Obj);
  });
}

/**
 * A deep copy of `value` that records which keys a validator reads. The models' validators are
 * compiled JSON Schemas that read exactly the properties their schema names (and every entry of
 * a map, such as labels), so a key never read is a field Kubernetes does not have: a typo such
 * as `readinesProbe` that the API server would drop or refuse.
 */
function tracked(value: unknown, path: string, unread: Map<string, Set<string>>): unknown {
  if (Array.isArray(value)) return value.map((v, i) => tracked(v, `${path}[${i}]`, unread));
  if (value === null || typeof value !== 'object') return value;
  const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${path}.${k}`, unread)]));
  const keys = new Set(Object.keys(copy));
  unread.set(path, keys);
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') keys.delete(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Validates `obj` with its kind's model; returns the fields no schema knows. */
function validateObject(obj: Obj): string[] {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (model === undefined) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}: add it to MODELS`);
  const unread = new Map<string, Set<string>>();
  model.prototype.validate.call(tracked(obj, obj.kind, unread));
  const unknown = [...unread].flatMap(([path, keys]) => [...keys].map((k) => `${path}.${k}`));
  // The misspelt field only, not every field under it.
  return unknown.filter((p) => !unknown.some((q) => p.startsWith(`${q}.`) || p.startsWith(`${q}[`)));
}

/** Mebibytes in a Kubernetes memory quantity (Mi, Gi). */
function mib(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`write memory in Mi or Gi: ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

const files = yamlFiles(ROOT);
const listed = new Set<string>();
const apps = Object.fromEntries(Object.keys(APPS).map((name) => [name, kustomize(join(ROOT, name), listed)])) as Record<keyof typeof APPS, Obj[]>;

/** The one workload of an app, its container, and the daemon's settings from the container's environment. */
function workload(objects: Obj[]) {
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  expect(workloads).toHaveLength(1);
  const w = workloads[0]!;
  const containers = w.spec.template.spec.containers as Container[];
  expect(containers).toHaveLength(1);
  const c = containers[0]!;
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  // The daemon's own validation: the manifest's values start the daemon.
  const config: DaemonConfig = resolveDaemonConfig({}, env);
  return { w, c, env, config, pod: w.spec.template as { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: any } };
}

/** The container port a probe's port (a name or a number) means. */
function portOf(c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describe('deploy/kubernetes: manifests', () => {
  it('every YAML file is part of a kustomization, and every kustomization resource exists', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !listed.has(f))).toEqual([]);
  });

  it('every object is valid against the Kubernetes API schemas, with no unknown field', () => {
    for (const f of files.filter((f) => basename(f) !== 'kustomization.yaml')) {
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
        expect(doc.errors, f).toEqual([]);
        const obj = doc.toJS() as Obj;
        let unknown: string[] = [];
        expect(() => (unknown = validateObject(obj)), `${f}: ${obj.kind} ${obj.metadata?.name}`).not.toThrow();
        expect(unknown, `${f}: fields Kubernetes does not have`).toEqual([]);
      }
    }
  });

  it('the unknown-field check catches a misspelt field', () => {
    const d = structuredClone(workload(apps['at-least-once']).w) as Obj;
    d.spec.template.spec.containers[0].readinesProbe = d.spec.template.spec.containers[0].readinessProbe;
    d.spec.replicaz = 2;
    expect(validateObject(d).sort()).toEqual(['Deployment.spec.replicaz', 'Deployment.spec.template.spec.containers[0].readinesProbe']);
  });
});

describe.each(Object.keys(APPS) as (keyof typeof APPS)[])('deploy/kubernetes/%s', (app) => {
  const objects = apps[app];
  const { w, c, env, config, pod } = workload(objects);

  let server: Server;
  let port = 0;
  beforeAll(async () => {
    // The daemon's real HTTP server, so the probe and scrape paths are the ones it serves.
    const health = { alive: () => true, ready: () => ({ ready: false, reason: 'test' }) };
    ({ server, port } = await startHttp('127.0.0.1', 0, health, new DaemonMetrics(new Stats())));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sets only environment variables the daemon reads (names from SETTINGS), and values it accepts', () => {
    const known = new Set<string>([...Object.values(SETTINGS).map(([name]) => name), CONFIG_ENV]);
    for (const name of Object.keys(env)) {
      if (name.startsWith('FRAUDWATCH_')) expect(known, name).toContain(name);
      else expect(name).toBe('NODE_OPTIONS');
    }
    expect(config.processing).toBe(APPS[app]);
  });

  it('binds the HTTP port on every interface, declares it, and probes /readyz and /healthz on it', async () => {
    expect(config.httpHost).toBe('0.0.0.0');
    expect(c.ports?.map((p) => p.containerPort)).toContain(config.httpPort);
    const probes = { readinessProbe: '/readyz', livenessProbe: '/healthz', startupProbe: '/healthz' } as const;
    for (const [probe, path] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const get = c[probe]?.httpGet;
      expect(get, probe).toBeDefined();
      expect(get!.path, probe).toBe(path);
      expect(portOf(c, get!.port), probe).toBe(config.httpPort);
    }
    // /readyz answers the readiness state, /healthz the liveness one.
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('has Prometheus scrape annotations on the pods, for the port and path the daemon serves', async () => {
    const a = pod.metadata.annotations ?? {};
    expect(a['prometheus.io/scrape']).toBe('true');
    expect(a['prometheus.io/port']).toBe(String(config.httpPort));
    const res = await fetch(`http://127.0.0.1:${port}${a['prometheus.io/path']}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('fraudwatch_events_total');
  });

  it("gives the daemon's graceful shutdown time to finish", () => {
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(SHUTDOWN_DEADLINE_MS / 1000);
  });

  it('mounts the rules ConfigMap as a directory (no subPath) holding the file FRAUDWATCH_RULES names', () => {
    const rulesFile = config.rulesFile!;
    expect(rulesFile).toBeDefined();
    const mount = c.volumeMounts?.find((m) => m.mountPath === posix.dirname(rulesFile));
    expect(mount, `a volume mounted on ${posix.dirname(rulesFile)}`).toBeDefined();
    // A subPath mount is a copy made at start: ConfigMap updates never reach it.
    expect(mount!.subPath).toBeUndefined();
    const volume = (pod.spec.volumes as { name: string; configMap?: { name: string; items?: unknown[] } }[]).find((v) => v.name === mount!.name);
    expect(volume?.configMap, 'a configMap volume').toBeDefined();
    expect(volume!.configMap!.items, 'every key, as a file of its name').toBeUndefined();
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume!.configMap!.name);
    expect(cm, `ConfigMap ${volume!.configMap!.name} in the kustomization`).toBeDefined();
    const text = cm!.data?.[posix.basename(rulesFile)];
    expect(text, `key ${posix.basename(rulesFile)}`).toBeDefined();
    expect(() => parseRules(text!, `${cm!.metadata.name}/${posix.basename(rulesFile)}`)).not.toThrow();
  });

  it('requests and limits CPU and memory, with the V8 heap below the memory limit', () => {
    const r = c.resources!;
    for (const kind of ['cpu', 'memory']) {
      expect(r.requests?.[kind], `requests.${kind}`).toBeDefined();
      expect(r.limits?.[kind], `limits.${kind}`).toBeDefined();
    }
    expect(mib(r.requests!.memory!)).toBe(mib(r.limits!.memory!));
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1]);
    expect(heap).toBeGreaterThan(0);
    // Room outside the heap for the geolocation data and buffers (~221 MB fixed cost).
    expect(heap).toBeLessThanOrEqual(mib(r.limits!.memory!) - 256);
  });

  it('runs as a non-root user given by number, read-only, with no privilege', () => {
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(Number.isInteger(pod.spec.securityContext.runAsUser)).toBe(true);
    const sc = (w.spec.template.spec.containers[0] as { securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean } }).securityContext;
    expect(sc).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('has a PodDisruptionBudget selecting its pods', () => {
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(pdbs).toHaveLength(1);
    const selector = pdbs[0]!.spec.selector.matchLabels as Record<string, string>;
    expect(pod.metadata.labels).toMatchObject(selector);
    expect(w.spec.selector.matchLabels).toEqual(selector);
  });

  if (app === 'at-least-once') {
    it('runs one replica, replaced (not rolled) so that two never split the partitions and the state', () => {
      expect(w.kind).toBe('Deployment');
      expect(w.spec.replicas).toBe(1);
      expect(w.spec.strategy.type).toBe('Recreate');
    });
  } else {
    it('runs several replicas in one group, with no volume for state (it is in Kafka)', () => {
      expect(w.spec.replicas).toBeGreaterThanOrEqual(2);
      expect(w.spec.volumeClaimTemplates).toBeUndefined();
      // Rules, scratch space and secrets only: nothing that would hold state across restarts.
      for (const v of pod.spec.volumes as Record<string, unknown>[]) expect(['configMap', 'emptyDir', 'secret'].some((k) => k in v), String(v.name)).toBe(true);
    });
  }
});

describe('docs/deployment.md', () => {
  it("states the manifests' replicas, memory and heap in its resources table", () => {
    const doc = readFileSync('docs/deployment.md', 'utf8');
    const row = (label: string) => doc.split('\n').find((l) => l.startsWith(`| ${label}`))!.split('|').slice(2, 4).map((c) => c.trim());
    const [alo, eos] = (['at-least-once', 'exactly-once'] as const).map((a) => workload(apps[a]));
    expect(row('memory request = limit')).toEqual([alo!.c.resources!.limits!.memory, eos!.c.resources!.limits!.memory]);
    const heap = (env: Record<string, string | undefined>) => `${/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS!)![1]} MB`;
    expect(row('V8 heap')).toEqual([heap(alo!.env), heap(eos!.env)]);
    expect(row('CPU request / limit')).toEqual([alo!, eos!].map((w) => `${w.c.resources!.requests!.cpu} / ${w.c.resources!.limits!.cpu}`));
    expect(doc).toContain(`A Deployment of ${eos!.w.spec.replicas}, all with \`FRAUDWATCH_GROUP_ID=${eos!.config.groupId}\``);
  });
});

describe('deploy/kubernetes: the two modes side by side', () => {
  it('use different consumer groups (one group, one mode)', () => {
    const groups = Object.values(apps).map((objects) => workload(objects).config.groupId);
    expect(new Set(groups).size).toBe(groups.length);
  });
});

/**
 * What the kubelet does to a ConfigMap volume (its AtomicWriter): the files live in a hidden
 * timestamped directory, `..data` links to it, and each key is a link through `..data`. An update
 * writes a new directory, swaps `..data` by rename and removes the old one; the key's own link
 * never changes.
 */
function configMapVolume(dir: string, files: Record<string, string>, generation: number): void {
  const stamp = `..2026_01_01_00_00_0${generation}.000000000`;
  mkdirSync(join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, stamp, name), text);
  const previous = generation > 1 ? `..2026_01_01_00_00_0${generation - 1}.000000000` : undefined;
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  if (previous) rmSync(join(dir, previous), { recursive: true });
  else for (const name of Object.keys(files)) symlinkSync(posix.join('..data', name), join(dir, name));
}

describe('deploy/kubernetes: rules updates through the ConfigMap volume', () => {
  it('the rules path reads the updated file after the kubelet swaps the volume (a SIGHUP then applies it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-cm-'));
    configMapVolume(dir, { 'rules.yaml': 'cooldown: 30m\n' }, 1);
    const before = loadRulesFile(join(dir, 'rules.yaml'));
    configMapVolume(dir, { 'rules.yaml': 'cooldown: 1h\n' }, 2);
    const after = loadRulesFile(join(dir, 'rules.yaml'));
    expect(after.effective.cooldown).toBe('1h');
    expect(after.version).not.toBe(before.version);
  });

  // The kubelet updates a mounted ConfigMap by swapping the volume's hidden `..data` link; the
  // rules file's own name never appears in the directory's events, so the watch must follow it.
  it('the daemon notices a ConfigMap update by itself, without SIGHUP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-cm-watch-'));
    configMapVolume(dir, { 'rules.yaml': 'cooldown: 30m\n' }, 1);
    let changes = 0;
    const stop = watchRulesFile(join(dir, 'rules.yaml'), () => changes++, pino({ level: 'silent' }));
    try {
      await new Promise((r) => setTimeout(r, 100));
      configMapVolume(dir, { 'rules.yaml': 'cooldown: 1h\n' }, 2);
      await new Promise((r) => setTimeout(r, 1500));
      expect(changes).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });
});
