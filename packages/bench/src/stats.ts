// Medians and spreads across rounds, and the checks that say when a run was too noisy.

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN };
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** Half the min–max range as a fraction of the median: 0.1 is ±10%. */
export function halfWidth({ median, min, max }: Spread): number {
  return (max - min) / 2 / median;
}

/** A stage's summary over every round, as the noise checks need it. */
export interface Summary {
  runtime: string;
  target: string;
  workload: string;
  /** Its throughput over the ceiling's in the same round. */
  ratio: Spread;
  /** The ceiling's CPU time per request over this one's. */
  cpuEfficiency: Spread;
  /** Pages served from a cache in the counting phase: a cache hit row. */
  cached: boolean;
}

/** Wider than this (±) and a ratio says more about the machine than about the code. */
export const MAX_HALF_WIDTH = 0.1;

/**
 * What says the run was too noisy to trust, in plain words; empty when nothing does.
 * Beside the spread, facts about the code that a quiet machine never contradicts: nothing
 * beats the ceiling (the same page with no work at all), and a later stage's cache hit is
 * never cheaper than an earlier one's (Module 13's hit adds a Redis round trip to Module 12's).
 */
export function noiseWarnings(summaries: Summary[], stageOrder: string[]): string[] {
  const warnings: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const two = (x: number) => x.toFixed(2);
  for (const s of summaries) {
    if (s.target === 'ceiling') continue;
    const where = `${label(s)}`;
    const width = halfWidth(s.ratio);
    if (!(width <= MAX_HALF_WIDTH)) {
      warnings.push(
        `${where}: its ratio to the ceiling ranged ${two(s.ratio.min)}–${two(s.ratio.max)} across rounds (±${pct(width)}, wider than ±${pct(MAX_HALF_WIDTH)})`,
      );
    }
    if (s.ratio.median > 1) {
      warnings.push(
        `${where}: its median throughput is ${two(s.ratio.median)}× the ceiling's, which does strictly less`,
      );
    }
    if (s.cpuEfficiency.median > 1) {
      warnings.push(
        `${where}: it took less CPU per request than the ceiling (${two(s.cpuEfficiency.median)}×), which does strictly less`,
      );
    }
  }
  const byRuntime = new Map<string, Summary[]>();
  for (const s of summaries) byRuntime.set(s.runtime, [...(byRuntime.get(s.runtime) ?? []), s]);
  for (const rows of byRuntime.values()) {
    const hits = rows
      .filter((s) => s.cached && s.target !== 'ceiling')
      .sort((a, b) => stageOrder.indexOf(a.target) - stageOrder.indexOf(b.target));
    for (let i = 1; i < hits.length; i++) {
      const [earlier, later] = [hits[i - 1]!, hits[i]!];
      if (later.ratio.median > earlier.ratio.median) {
        warnings.push(
          `${label(later)} (${two(later.ratio.median)} of the ceiling) came out faster than ${label(earlier)} (${two(earlier.ratio.median)}), though its cache hit does more work`,
        );
      }
      if (later.cpuEfficiency.median > earlier.cpuEfficiency.median) {
        warnings.push(
          `${label(later)} came out cheaper in CPU per request than ${label(earlier)}, though its cache hit does more work`,
        );
      }
    }
  }
  return warnings;
}

function label(s: Pick<Summary, 'runtime' | 'target' | 'workload'>): string {
  return `${s.target} (${s.workload} visitor${s.runtime ? `, Node ${s.runtime}` : ''})`;
}
