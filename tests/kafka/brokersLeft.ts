/**
 * The check after a test run: is any broker of this checkout (scripts/kafka-local.sh, this
 * repository's cache) still running? Exits 1 naming its ports, else 0. Brokers that were meant to
 * outlive the suite (CI's own, a developer's) are named with --except.
 *
 *   npm test; npx tsx tests/kafka/brokersLeft.ts --except 9092
 *
 * The suite's global teardown (tests/kafka/globalSetup.ts) makes the same check on the brokers
 * started while it ran; this one also covers a run that was killed before its teardown.
 */
import { runningBrokers } from './suiteBrokers.js';

const except = new Set<number>();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--except' && args[i + 1] !== undefined) for (const p of args[++i]!.split(',')) except.add(Number(p));
  else {
    process.stderr.write('usage: tsx tests/kafka/brokersLeft.ts [--except PORT[,PORT…]]\n');
    process.exit(2);
  }
}
const left = runningBrokers().filter((p) => !except.has(p));
if (left.length > 0) {
  process.stderr.write(`brokers of this checkout still running on port(s) ${left.join(', ')}; stop them with KAFKA_PORT=<port> bash scripts/kafka-local.sh stop\n`);
  process.exit(1);
}
process.stdout.write(`no broker of this checkout is running${except.size > 0 ? ` besides ${[...except].join(', ')}` : ''}\n`);
