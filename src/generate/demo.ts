import type { GenerateOptions } from './generator.js';

/**
 * The demo log (fixtures/demo/): small enough to commit and to read (~13.7k events, ~2.9 MB),
 * yet every one of the eleven detectors has an incident, every incident class but the one-day
 * viewing jump (its habit-jump cousin is there) has one, and every trap class appears. 23 days
 * give account sharing its three weeks and the viewing baselines their week of history and
 * more; 28 went over 3 MB once the detection-depth classes (issue 7) joined, and the detection-fidelity
 * viewing traps (long evenings, young heavy viewers, at full length) add about 0.45 MB. Ordinary accounts'
 * viewing is turned right down: heartbeats (one per 5 minutes watched) would otherwise be most
 * of the file. 120 accounts is the smallest population that still holds a 50-account campus NAT
 * without it being most of the demo.
 */
export const DEMO_OPTIONS: GenerateOptions = {
  seed: 7,
  accounts: 120,
  days: 23,
  start: '2026-01-05T00:00:00.000Z',
  incidents: true,
  noise: true,
  backgroundViewing: 0.05,
};
