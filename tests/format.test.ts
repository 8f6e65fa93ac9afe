import { describe, expect, it } from 'vitest';
import { humanCount, humanDistance, humanDuration, humanNumber, humanPercent, humanSpeed } from '../src/format/human.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration', () => {
  it('spells a duration in its two largest units', () => {
    expect(humanDuration(85_449)).toBe('1m25s');
    expect(humanDuration(2 * H + 5 * M)).toBe('2h5m');
    expect(humanDuration(3 * D + 4 * H)).toBe('3d4h');
    expect(humanDuration(45 * S)).toBe('45s');
  });

  it('uses milliseconds below a second', () => {
    expect(humanDuration(850)).toBe('850ms');
    expect(humanDuration(0)).toBe('0ms');
    expect(humanDuration(12.4)).toBe('12ms');
  });

  it('drops a zero second unit', () => {
    expect(humanDuration(10 * M)).toBe('10m');
    expect(humanDuration(H)).toBe('1h');
    expect(humanDuration(30 * D)).toBe('30d');
    expect(humanDuration(S)).toBe('1s');
  });

  it('rounds to the smaller unit, carrying into the next', () => {
    expect(humanDuration(85_500)).toBe('1m26s');
    expect(humanDuration(2 * H + 5 * M + 29 * S)).toBe('2h5m');
    expect(humanDuration(3 * D + 4 * H + 31 * M)).toBe('3d5h');
    expect(humanDuration(999.6)).toBe('1s');
    expect(humanDuration(59.7 * S)).toBe('1m');
    expect(humanDuration(H - 0.4 * S)).toBe('1h');
    expect(humanDuration(D - 20 * S)).toBe('1d');
    expect(humanDuration(23 * H + 40 * M)).toBe('23h40m');
  });

  it('keeps a sign, and leaves non-numbers readable', () => {
    expect(humanDuration(-90 * S)).toBe('-1m30s');
    expect(humanDuration(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});

describe('numbers', () => {
  it('counts are whole, with thousands separators', () => {
    expect(humanCount(1234)).toBe('1,234');
    expect(humanCount(20)).toBe('20');
    expect(humanCount(2.6)).toBe('3');
  });

  it('measured quantities keep at most one decimal', () => {
    expect(humanNumber(7.5)).toBe('7.5');
    expect(humanNumber(14)).toBe('14');
    expect(humanNumber(1.06)).toBe('1.1');
    expect(humanNumber(1302.44)).toBe('1,302.4');
    expect(humanNumber(-0.01)).toBe('0');
  });

  it('ratios are whole percentages', () => {
    expect(humanPercent(0.953)).toBe('95%');
    expect(humanPercent(0.8)).toBe('80%');
    expect(humanPercent(1)).toBe('100%');
  });

  it('distances are whole kilometres with separators, one decimal below 10 km', () => {
    expect(humanDistance(5570.2)).toBe('5,570 km');
    expect(humanDistance(352.4)).toBe('352 km');
    expect(humanDistance(3.24)).toBe('3.2 km');
  });

  it('speeds are whole km/h with separators', () => {
    expect(humanSpeed(812.3)).toBe('812 km/h');
    expect(humanSpeed(12_431)).toBe('12,431 km/h');
  });
});
