import type { GenerateOptions } from './generator.js';

/**
 * The demo log (fixtures/demo/): small enough to commit and to read (~12.7k events, ~2.6 MB),
 * yet every one of the ten detectors has an incident and every trap class appears. Four weeks
 * give account sharing its three weeks and the viewing baselines their week of history.
 * Ordinary accounts' viewing is turned right down: heartbeats (one per 5 minutes watched) would
 * otherwise be most of the file. 120 accounts is the smallest population that still holds a
 * 50-account campus NAT without it being most of the demo.
 */
export const DEMO_OPTIONS: GenerateOptions = {
  seed: 7,
  accounts: 120,
  days: 28,
  start: '2026-01-05T00:00:00.000Z',
  incidents: true,
  noise: true,
  backgroundViewing: 0.05,
};
