import { DEMO_OPTIONS } from '../generate/demo.js';
import { generateToDir } from '../generate/generator.js';

export interface GenerateFlags {
  out: string;
  seed: number;
  accounts: number;
  days: number;
  demo: boolean;
  incidents: boolean;
  noise: boolean;
}

/** `fraudwatch generate`: a seeded synthetic log and its labels, for tests, benchmarks and backtests. */
export async function generateCommand(flags: GenerateFlags): Promise<void> {
  const opts = flags.demo
    ? DEMO_OPTIONS
    : { seed: flags.seed, accounts: flags.accounts, days: flags.days, incidents: flags.incidents, noise: flags.noise };
  const started = performance.now();
  const r = await generateToDir(opts, flags.out);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `fraudwatch generate: ${flags.out}/events.jsonl (${r.events} events, ${r.invalid} invalid lines, ${r.duplicates} duplicates) ` +
      `and labels.json (${r.incidents} incidents, ${r.traps} traps) in ${secs} s\n`,
  );
}
