// Preloaded into a measured child process (node --import): on exit, writes the process's peak
// resident set size to the file named by BENCH_MAXRSS_OUT, so the bench reads the true peak of
// a process that has already ended (polling /proc from outside would miss short spikes).
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_MAXRSS_OUT;
if (out) process.on('exit', () => writeFileSync(out, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })));
