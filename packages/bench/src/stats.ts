// Medians and spreads across rounds, and the checks that say when a run was too noisy.

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** The quartiles: the middle half of the values lies between them. */
  q1: number;
  q3: number;
}

export function spread(values: number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, q1: NaN, q3: NaN };
  // Linear between the nearest values (the usual definition: R's type 7, numpy's default).
  const at = (p: number) => {
    const x = (sorted.length - 1) * p;
    const below = Math.floor(x);
    const above = Math.min(below + 1, sorted.length - 1);
    return sorted[below]! + (sorted[above]! - sorted[below]!) * (x - below);
  };
  return { median: at(0.5), min: sorted[0]!, max: sorted.at(-1)!, q1: at(0.25), q3: at(0.75) };
}

/** Half the min–max range as a fraction of the median: 0.1 is ±10%. */
export function halfWidth({ median, min, max }: Spread): number {
  return (max - min) / 2 / median;
}

/** Half the middle half's range (the quartiles') as a fraction of the median. */
export function middleHalfWidth({ median, q1, q3 }: Spread): number {
  return (q3 - q1) / 2 / median;
}

/** A target's summary over every round, as the noise checks need it. */
export interface Summary {
  runtime: string;
  target: string;
  workload: string;
  requestsPerSecond: Spread;
  serverCpuPerRequest: Spread;
  /** Its throughput over the ceiling run's beside it. */
  ratio: Spread;
  /** The CPU time per request of the ceiling run beside it, over its own. */
  cpuEfficiency: Spread;
  /** Pages served from a cache in the counting phase: a cache hit row. */
  cached: boolean;
  /**
   * Pages that reached Datastore in the counting phase. Their speed is the emulator's: it
   * slows as it fills, so their spread says nothing about the machine.
   */
  datastoreBound: boolean;
}

/** What the machine's neighbours took, and how many cores it has. */
export interface Neighbours {
  /** Cores' worth of CPU that processes other than the bench's used, per run. */
  cores: Spread;
  machineCores: number;
}

/**
 * Wider than this (±), in the middle half of the rounds, and a figure taken against the
 * ceiling run beside it says more about the machine than about the code.
 */
export const MAX_HALF_WIDTH = 0.1;

/** More than this share of the machine's cores busy with other processes is a noisy run. */
export const MAX_NEIGHBOURS_SHARE = 0.1;

/**
 * How far past an order the code implies a median may land before it counts against the run:
 * a cache hit that does next to nothing more than the ceiling can come out a hair cheaper than
 * it in a quiet run (CPU time is counted in 10 ms ticks).
 */
export const ORDER_TOLERANCE = 0.05;

/**
 * What says the run was too noisy to trust, in plain words; empty when nothing does. The
 * evidence is what neighbours took, and the figures that depend on nothing but this machine's
 * CPU, each taken against the ceiling run beside it: the cache hits' and the Redis floor's.
 * Each must hold steady across rounds (its middle half within ±10%: a round in which the host
 * changed speed between two runs a second apart is an outlier the median shrugs off), and the
 * medians must keep the order the code implies: nothing beats the ceiling (the same page with
 * no work at all), and a later stage's cache hit is never cheaper than an earlier one's (Module
 * 13's hit adds a Redis round trip to Module 12's). The ceiling's own figures are left out:
 * they follow the host's speed, which `hostSpeed` reports. So are the rows that reach
 * Datastore: their speed is the emulator's (see `emulatorDrift`).
 */
export function noiseWarnings(
  summaries: Summary[],
  stageOrder: string[],
  neighbours: Neighbours,
): string[] {
  const warnings: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const two = (x: number) => x.toFixed(2);
  const busy = neighbours.cores.median;
  if (!(busy <= MAX_NEIGHBOURS_SHARE * neighbours.machineCores)) {
    warnings.push(
      `other processes used ${two(busy)} of the machine's ${neighbours.machineCores} cores during the median run: the servers competed with them for CPU`,
    );
  }
  const steady = (what: string, figure: string, s: Spread, format: (x: number) => string) => {
    const width = middleHalfWidth(s);
    if (!(width <= MAX_HALF_WIDTH)) {
      warnings.push(
        `${what}: its ${figure} ranged ${format(s.q1)}–${format(s.q3)} in the middle half of the rounds (±${pct(width)}, wider than ±${pct(MAX_HALF_WIDTH)}; ${format(s.min)}–${format(s.max)} in all)`,
      );
    }
  };
  const cpuBound = summaries.filter((s) => !s.datastoreBound && s.target !== 'ceiling');
  for (const s of cpuBound) {
    steady(label(s), 'ratio to the ceiling', s.ratio, two);
    steady(label(s), 'CPU efficiency (ceiling/this)', s.cpuEfficiency, two);
    if (s.ratio.median > 1 + ORDER_TOLERANCE) {
      warnings.push(
        `${label(s)}: its median throughput is ${two(s.ratio.median)}× the ceiling's, which does strictly less`,
      );
    }
    if (s.cpuEfficiency.median > 1 + ORDER_TOLERANCE) {
      warnings.push(
        `${label(s)}: it took less CPU per request than the ceiling (${two(s.cpuEfficiency.median)}×), which does strictly less`,
      );
    }
  }
  for (const runtime of new Set(cpuBound.map((s) => s.runtime))) {
    const hits = cpuBound
      .filter((s) => s.runtime === runtime && s.cached)
      .sort((a, b) => stageOrder.indexOf(a.target) - stageOrder.indexOf(b.target));
    for (let i = 1; i < hits.length; i++) {
      const [earlier, later] = [hits[i - 1]!, hits[i]!];
      if (later.ratio.median > earlier.ratio.median * (1 + ORDER_TOLERANCE)) {
        warnings.push(
          `${label(later)} (${two(later.ratio.median)} of the ceiling) came out faster than ${label(earlier)} (${two(earlier.ratio.median)}), though its cache hit does more work`,
        );
      }
      if (later.cpuEfficiency.median > earlier.cpuEfficiency.median * (1 + ORDER_TOLERANCE)) {
        warnings.push(
          `${label(later)} came out cheaper in CPU per request than ${label(earlier)}, though its cache hit does more work`,
        );
      }
    }
  }
  return warnings;
}

/**
 * How far the host's speed moved during the run, in plain words; empty when it held within
 * ±10%. The ceiling does the same work in every run, so its CPU per request moves only with
 * the speed at which the host ran this VM's core: on a shared host, as much as twice as slow
 * for seconds at a time, which no /proc figure shows (the CPU time a process is charged grows
 * with it). Not noise on this machine, and not in the figures taken against the ceiling run
 * beside them: only the ceiling's own figures, and the µs ones, carry it.
 */
export function hostSpeed(
  ceilings: Array<Pick<Summary, 'runtime' | 'serverCpuPerRequest'>>,
): string[] {
  return ceilings
    .filter(({ serverCpuPerRequest }) => !(halfWidth(serverCpuPerRequest) <= MAX_HALF_WIDTH))
    .map(({ runtime, serverCpuPerRequest: s }) => {
      const where = runtime ? ` on Node ${runtime}` : '';
      return `the ceiling${where} took ${s.min.toFixed(0)}–${s.max.toFixed(0)} µs of CPU per request across its runs (median ${s.median.toFixed(0)}, ±${(halfWidth(s) * 100).toFixed(0)}%)`;
    });
}

/** One Datastore-bound row's throughput, round by round. */
export interface RoundByRound {
  runtime: string;
  target: string;
  workload: string;
  requestsPerSecond: number[];
}

/**
 * The rows that reach Datastore, where their throughput moved by more than ±10% from the first
 * round to the last: the emulator's drift, said as such (it is not the machine's noise).
 */
export function emulatorDrift(rows: RoundByRound[]): string[] {
  const notes: string[] = [];
  for (const row of rows) {
    const [first, last] = [row.requestsPerSecond[0], row.requestsPerSecond.at(-1)];
    if (first === undefined || last === undefined || row.requestsPerSecond.length < 2) continue;
    const change = last / first - 1;
    if (!(Math.abs(change) > MAX_HALF_WIDTH)) continue;
    const sign = change > 0 ? '+' : '−';
    notes.push(
      `${label(row)}: ${first.toFixed(0)} requests/s in the first round, ${last.toFixed(0)} in the last (${sign}${Math.abs(change * 100).toFixed(0)}%)`,
    );
  }
  return notes;
}

function label(s: Pick<Summary, 'runtime' | 'target' | 'workload'>): string {
  return `${s.target} (${s.workload} visitor${s.runtime ? `, Node ${s.runtime}` : ''})`;
}
