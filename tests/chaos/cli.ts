/**
 * `npm run chaos -- --runs N --seed S [--mode exactly_once|at_least_once|both] [--accounts N --days N]`
 *
 * Runs seeded chaos runs one after another against the harness's own broker (reset and started
 * here, stopped at the end, also on failure or Ctrl-C), prints one table line per run as it
 * finishes and a summary, and exits 1 if any run failed. Run i has seed S+i, so
 * `--runs 1 --seed <its seed>` (with the same --mode, --scenario, --accounts, --days, --lateness)
 * replays its choices. With --mode both (the default) even seeds run exactly_once and odd ones
 * at_least_once, so consecutive runs alternate.
 *
 * Other flags fix one choice for every run (--instances, --partitions, --keyed yes|no, --input-keyed yes|no,
 * --skewed yes|no, --idle-timeout, --chunks N|burst, --kills N, --broker-restart yes|no) or run
 * a named regression scenario (--scenario backlogBurst|underFaults|catchUp|catchUpEager); -v prints each
 * run's plan and progress to stderr. A failed run's daemon logs, plan, alerts and differences
 * are kept in a directory under the OS tmpdir, named in its row. For example:
 *
 *   npm run chaos -- --runs 20 --seed 1000
 *   npm run chaos -- --runs 1 --seed 11 --scenario backlogBurst -v
 *   npm run chaos -- --runs 1 --seed 2 --mode exactly_once --instances 1 --partitions 1 --keyed yes --kills 0 --broker-restart no --chunks 10
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../../src/config/duration.js';
import { CHAOS_PORT, killAllDaemons, runChaos, scenarios, startChaosBroker, stopChaosBroker, type ChaosOptions, type ChaosRow, type Mode, type ScenarioName } from './scenario.js';

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command('chaos')
  .description('Seeded fault injection: the daemon must give the replay\'s alerts whatever the timing and faults.')
  .option('--runs <n>', 'number of runs', positiveInt('--runs'), 20)
  .option('--seed <s>', 'seed of the first run (run i has seed + i); default random', (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('--seed must be a non-negative integer');
    return n;
  })
  .addOption(new Option('--mode <mode>', 'processing mode; both alternates by seed parity').choices(['exactly_once', 'at_least_once', 'both']).default('both'))
  .addOption(new Option('--scenario <name>', 'fixed options of a named regression scenario (only the seed varies)').choices(Object.keys(scenarios)))
  .option('--accounts <n>', 'accounts in each log (default 150-300, drawn)', positiveInt('--accounts'))
  .option('--days <n>', 'days in each log (default 7-14, drawn)', positiveInt('--days'))
  .option('--lateness <duration>', 'FRAUDWATCH_LATENESS and the replay\'s lateness (default the rules\': 30s)', (v) => {
    try {
      return parseDuration(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  })
  .option('--rules <file>', 'rules file', 'rules/default.yaml')
  // Fix one choice of every run (the others are still drawn from the seed):
  .option('--instances <n>', 'exactly_once instances (default 1-3, drawn)', positiveInt('--instances'))
  .option('--partitions <n>', 'input partitions (default 1-6, drawn)', positiveInt('--partitions'))
  .addOption(new Option('--keyed <yes|no>', 'records keyed by accountId (default drawn)').choices(['yes', 'no']))
  .addOption(new Option('--input-keyed <yes|no>', 'exactly_once over keyed records: FRAUDWATCH_INPUT_KEYED=account (default drawn; yes needs --mode exactly_once --keyed yes)').choices(['yes', 'no']))
  .addOption(new Option('--skewed <yes|no>', 'unkeyed records on uneven partitions (default drawn)').choices(['yes', 'no']))
  .option('--idle-timeout <duration>', 'FRAUDWATCH_IDLE_TIMEOUT (default 200ms or 2s, drawn)')
  .option('--chunks <n|burst>', 'production in n chunks, or the whole log at once (default random)', (v) => {
    if (v === 'burst') return v;
    return positiveInt('--chunks')(v);
  })
  .option('--kills <n>', 'kill -9 count, exactly_once (default 0-3, drawn)', (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('--kills must be a non-negative integer');
    return n;
  })
  .addOption(new Option('--broker-restart <yes|no>', 'one broker stop/start while producing (default drawn)').choices(['yes', 'no']))
  .option('-v, --verbose', 'print each run\'s plan and progress to stderr')
  .showHelpAfterError();

interface Flags {
  runs: number;
  seed?: number;
  mode: Mode | 'both';
  scenario?: ScenarioName;
  accounts?: number;
  days?: number;
  lateness?: number;
  rules: string;
  instances?: number;
  partitions?: number;
  keyed?: 'yes' | 'no';
  inputKeyed?: 'yes' | 'no';
  skewed?: 'yes' | 'no';
  idleTimeout?: string;
  chunks?: number | 'burst';
  kills?: number;
  brokerRestart?: 'yes' | 'no';
  verbose?: boolean;
}

/** The options every run shares, from the flags that fix a choice. */
function fixedChoices(f: Flags): Partial<ChaosOptions> {
  const yes = (v: 'yes' | 'no' | undefined) => (v === undefined ? undefined : v === 'yes');
  const o: Record<string, unknown> = {
    accounts: f.accounts,
    days: f.days,
    latenessMs: f.lateness,
    instances: f.instances,
    partitions: f.partitions,
    keyed: yes(f.keyed),
    inputKeyed: yes(f.inputKeyed),
    skewed: yes(f.skewed),
    idleTimeout: f.idleTimeout,
    production: f.chunks === undefined ? undefined : f.chunks === 'burst' ? { kind: 'burst' } : { kind: 'chunks', chunks: f.chunks },
    kills: f.kills,
    brokerRestart: yes(f.brokerRestart),
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<ChaosOptions>;
}

/** The flags that fixed choices, to replay a run. */
const replayFlags = (argv: readonly string[]) => {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs' || argv[i] === '--seed') i++;
    else if (argv[i]!.startsWith('--runs=') || argv[i]!.startsWith('--seed=')) continue;
    else out.push(argv[i]!);
  }
  return out.join(' ');
};

const COLUMNS: [string, number][] = [
  ['seed', 10], ['mode', 13], ['inst', 4], ['input', 11], ['kills', 5], ['restarts', 8], ['brokerRst', 9],
  ['expected', 8], ['alerts', 6], ['missing', 7], ['extra', 5], ['dup', 7], ['late', 5], ['secs', 5], ['result', 6],
];

const cell = (v: string | number, w: number) => String(v).padStart(w);
const header = () => COLUMNS.map(([name, w]) => cell(name, w)).join(' ');
const line = (r: ChaosRow) =>
  [
    r.seed,
    r.mode,
    r.instances,
    `${r.partitions}p ${r.keyed ? (r.inputKeyed ? 'cokey' : 'key') : r.skewed ? 'skew' : 'nokey'}`,
    r.kills,
    r.restarts,
    r.brokerRestarts,
    r.expected,
    r.alerts,
    r.missing,
    r.extra,
    r.mode === 'exactly_once' ? r.duplicated : `rep ${r.repeated}`,
    r.late,
    r.seconds,
    r.passed ? 'PASS' : 'FAIL',
  ]
    .map((v, i) => cell(v, COLUMNS[i]![1]))
    .join(' ');

const elapsed = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

async function main(): Promise<number> {
  const flags = program.parse(process.argv).opts<Flags>();
  // spawnDaemon runs bin/fraudwatch.js relative to the repository root.
  process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
  const firstSeed = flags.seed ?? Math.floor(Math.random() * 1_000_000);
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const started = Date.now();

  let stopping = false;
  const interrupt = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    err(`\n${signal}: killing the daemons and stopping the chaos broker on port ${CHAOS_PORT}...`);
    killAllDaemons();
    await stopChaosBroker();
    process.exit(130);
  };
  process.on('SIGINT', () => void interrupt('SIGINT'));
  process.on('SIGTERM', () => void interrupt('SIGTERM'));

  err(`chaos: ${flags.runs} run(s) from seed ${firstSeed}; starting a fresh broker on port ${CHAOS_PORT}...`);
  const broker = await startChaosBroker();
  const rows: ChaosRow[] = [];
  const broken: { seed: number; error: string }[] = [];
  try {
    console.log(header());
    for (let i = 0; i < flags.runs && !stopping; i++) {
      const seed = firstSeed + i;
      const mode: Mode | undefined = flags.scenario ? undefined : flags.mode === 'both' ? (seed % 2 === 0 ? 'exactly_once' : 'at_least_once') : flags.mode;
      const options: ChaosOptions = {
        broker,
        ...(flags.scenario ? scenarios[flags.scenario](seed) : { seed, mode }),
        ...fixedChoices(flags),
        // Kills and several instances are for exactly_once only (see scenario.ts).
        ...(mode === 'at_least_once' ? { kills: 0, instances: 1 } : {}),
        rules: flags.rules,
        log: (s) => (flags.verbose || s.startsWith('seed ') ? err(`  [${new Date().toISOString().slice(11, 19)}] ${s}`) : undefined),
      };
      try {
        const row = await runChaos(options);
        rows.push(row);
        console.log(line(row));
        for (const f of row.failures) console.log(`${' '.repeat(12)}${f}`);
        if (!row.passed) console.log(`${' '.repeat(12)}e.g. missing ${row.samples.missing.join(' ') || '-'}; extra ${row.samples.extra.join(' ') || '-'}; twice ${row.samples.duplicated.join(' ') || '-'}; logs: ${row.failureDir}`);
        if (row.crashes > 0) console.log(`${' '.repeat(12)}note: ${row.crashes} daemon process(es) exited on their own`);
      } catch (e) {
        if (stopping) break;
        broken.push({ seed, error: (e as Error).message });
        console.log(`${cell(seed, 10)} run could not be carried out: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    killAllDaemons();
    await stopChaosBroker(broker.port);
  }
  const failed = rows.filter((r) => !r.passed);
  const again = [...failed.map((r) => r.seed), ...broken.map((b) => b.seed)];
  console.log(
    `\n${rows.length + broken.length} run(s): ${rows.length - failed.length} passed, ${failed.length} failed${broken.length > 0 ? `, ${broken.length} could not be carried out` : ''} in ${elapsed(Date.now() - started)}` +
      (rows.length > 0 ? ` (a run took ${Math.min(...rows.map((r) => r.seconds))}-${Math.max(...rows.map((r) => r.seconds))} s)` : ''),
  );
  if (again.length > 0) console.log(`replay one with: ${`npm run chaos -- --runs 1 --seed <seed> ${replayFlags(process.argv.slice(2))}`.trim()}   (seeds: ${again.join(', ')})`);
  return again.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? e}\n`);
    killAllDaemons();
    await stopChaosBroker();
    process.exit(2);
  },
);
