// How busy each core was between two moments, from /proc/stat (Linux; elsewhere null). The clock
// ticks every 10 ms, so over a window of a few hundred ms the share is rough (± a few %).

import { readFileSync } from 'node:fs';

/** [busy, total] clock ticks per core, or null where /proc/stat is missing. */
export type CoreTimes = [number, number][] | null;

export function coreTimes(): CoreTimes {
  try {
    return readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((line) => /^cpu\d+ /.test(line))
      .map((line) => {
        const fields = line.trim().split(/\s+/).slice(1).map(Number);
        const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
        const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
        return [total - idle, total];
      });
  } catch {
    return null;
  }
}

/** Busy share (0–1) of each core between two readings. */
export function busyBetween(before: CoreTimes, after: CoreTimes): number[] | null {
  if (before === null || after === null) return null;
  return after.map(([busy, total], i) => {
    const ticks = total - before[i]![1];
    return ticks > 0 ? Math.round(((busy - before[i]![0]) / ticks) * 100) / 100 : NaN;
  });
}
