// Not a speed test: figures are for people to read (npm run bench). This checks that a short
// run works end to end, that its report has the shape the README promises (interleaved rounds,
// every round kept, medians with their spread), and that what it counts is exact: every miss
// is one Datastore write and one query, a returning visitor to a cached stage costs Datastore
// nothing, and Redis sees one call per hit and two per miss. The counts come from a fixed
// number of requests, every one awaited, so they are exact however busy the machine is.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  barChart,
  markdownReport,
  textReport,
  type BenchResults,
  type RowSummary,
} from '../src/report.js';
import { resolveRuntimes } from '../src/runtimes.js';
import { noiseWarnings, spread, type Spread, type Summary } from '../src/stats.js';

const BENCH = fileURLToPath(new URL('../src/bench.js', import.meta.url));
const STAGES = ['mod1-baseline', 'mod12-memcache', 'mod13-redis'];
const PAIRS = [
  'ceiling returning',
  ...STAGES.flatMap((stage) => [`${stage} returning`, `${stage} new`]),
];

test('a short run measures every stage in interleaved rounds and counts its calls exactly', () => {
  const results = mkdtempSync(join(tmpdir(), 'bench-'));
  const count = 40;
  const output = execFileSync(
    process.execPath,
    [
      BENCH,
      '--rounds=2',
      '--seconds=1',
      '--connections=4',
      `--count=${count}`,
      `--results=${results}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const report: BenchResults = JSON.parse(readFileSync(join(results, 'bench.json'), 'utf8'));

  // Every round holds every target and workload exactly once, in a rotating order.
  assert.equal(report.rounds.length, 2, 'rounds kept');
  const orders = report.rounds.map(({ runs }) => runs.map((r) => `${r.target} ${r.workload}`));
  for (const [index, order] of orders.entries()) {
    assert.deepEqual([...order].sort(), [...PAIRS].sort(), `round ${index + 1}: ${order}`);
  }
  assert.notDeepEqual(orders[0], orders[1], 'the second round runs in another order');
  for (const run of report.rounds.flatMap(({ runs }) => runs)) {
    const what = `${run.target} ${run.workload}`;
    assert.equal(run.errors, 0, `${what}: ${run.errors} errors`);
    for (const key of ['requests', 'serverCpuPerRequest', 'p50', 'p99', 'othersCores'] as const) {
      assert.ok(Number.isFinite(run[key]) && run[key] >= 0, `${what}: ${key} is ${run[key]}`);
    }
  }

  // Medians with their spread, per target and workload.
  assert.deepEqual(
    report.summaries.map((s) => `${s.target} ${s.workload}`),
    PAIRS,
    'one summary per target and workload, in stage order',
  );
  const within = (s: Spread, what: string) =>
    assert.ok(s.min <= s.median && s.median <= s.max, `${what}: ${JSON.stringify(s)}`);
  for (const s of report.summaries) {
    within(s.requestsPerSecond, `${s.target} ${s.workload} requests/s`);
    within(s.ratio, `${s.target} ${s.workload} ratio`);
    within(s.serverCpuPerRequest, `${s.target} ${s.workload} CPU per request`);
  }
  const ceiling = report.summaries.find((s) => s.target === 'ceiling')!;
  assert.deepEqual(ceiling.ratio, { median: 1, min: 1, max: 1 });

  // The exact counts.
  const counted = (target: string, workload: string) => {
    const found = report.counts.find((c) => c.target === target && c.workload === workload);
    assert.ok(found, `${target} ${workload} counted`);
    assert.equal(found.requests, count, `${target} ${workload}: ${found.requests} requests`);
    assert.equal(found.errors, 0, `${target} ${workload}: ${found.errors} errors`);
    return found;
  };
  const misses = [['mod1-baseline', 'returning'], ...STAGES.map((stage) => [stage, 'new'])];
  for (const [target, workload] of misses as Array<[string, string]>) {
    const c = counted(target, workload);
    assert.equal(c.datastoreWrites, count, `${target} ${workload}: ${c.datastoreWrites} writes`);
    assert.equal(c.datastoreQueries, count, `${target} ${workload}: ${c.datastoreQueries} queries`);
    assert.equal(c.cacheHits, 0, `${target} ${workload}: ${c.cacheHits} cache hits`);
  }
  for (const target of ['mod12-memcache', 'mod13-redis']) {
    const c = counted(target, 'returning');
    assert.equal(c.datastoreWrites, 0, `${target} returning: ${c.datastoreWrites} writes`);
    assert.equal(c.datastoreQueries, 0, `${target} returning: ${c.datastoreQueries} queries`);
    assert.equal(c.cacheHits, count, `${target} returning: ${c.cacheHits} cache hits`);
  }
  const redis = (target: string, workload: string) => counted(target, workload).redisCalls;
  assert.equal(redis('mod13-redis', 'returning'), count, 'GET per hit');
  assert.equal(redis('mod13-redis', 'new'), 2 * count, 'GET and SET per miss');
  for (const pair of PAIRS.filter((p) => !p.startsWith('mod13'))) {
    const [target, workload] = pair.split(' ') as [string, string];
    assert.equal(redis(target, workload), 0, `${pair}: Redis calls`);
  }
  const row = (target: string, workload: string) =>
    report.summaries.find((s) => s.target === target && s.workload === workload)!;
  assert.equal(row('mod13-redis', 'new').redisCallsPerRequest, 2);
  assert.equal(row('mod12-memcache', 'returning').datastoreWritesPerRequest, 0);

  // What a person reads.
  assert.match(output, /Target +Workload +Requests\/s +p50 ms +p99 ms +vs ceiling \(min–max\)/);
  assert.match(output, /No sign of noise|WARNING: this machine was too noisy/);
  const md = readFileSync(join(results, 'bench.md'), 'utf8');
  assert.match(md, /^\| mod13-redis \| returning \| \d+ \|/m);
  assert.match(md, /^## Noise$/m);
  const svg = readFileSync(join(results, 'bench.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /new visitor \(every request misses\)/);
});

function summary(target: string, workload: string, ratio: number[], cpu = ratio): Summary {
  return {
    runtime: '',
    target,
    workload,
    ratio: spread(ratio),
    cpuEfficiency: spread(cpu),
    cached: workload === 'returning' && target !== 'mod1-baseline',
  };
}
const ORDER = ['ceiling', ...STAGES];

test('medians and spreads: odd and even counts, and what is not a number left out', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  assert.deepEqual(spread([1, NaN, Infinity, 5]), { median: 3, min: 1, max: 5 });
});

test('a steady run raises no warning; a wide spread or an impossible order does, with figures', () => {
  const steady = [
    summary('ceiling', 'returning', [1, 1, 1]),
    summary('mod12-memcache', 'returning', [0.9, 0.93, 0.95]),
    summary('mod13-redis', 'returning', [0.72, 0.75, 0.78]),
    summary('mod13-redis', 'new', [0.02, 0.021, 0.022]),
  ];
  assert.deepEqual(noiseWarnings(steady, ORDER), []);

  const wide = noiseWarnings(
    [summary('mod12-memcache', 'returning', [0.6, 0.93, 1.2], [0.9, 0.9, 0.9])],
    ORDER,
  );
  assert.equal(wide.length, 1, wide.join('\n'));
  assert.match(wide[0]!, /mod12-memcache \(returning visitor\).*0\.60–1\.20.*±32%/);

  const upsideDown = noiseWarnings(
    [
      summary('mod12-memcache', 'returning', [0.6, 0.62, 0.64]),
      summary('mod13-redis', 'returning', [0.8, 0.82, 0.84]),
    ],
    ORDER,
  );
  assert.ok(
    upsideDown.some((w) => /mod13-redis .*0\.82.*faster than mod12-memcache .*0\.62/.test(w)),
    upsideDown.join('\n'),
  );
  assert.ok(
    upsideDown.some((w) => /cheaper in CPU per request/.test(w)),
    upsideDown.join('\n'),
  );

  const aboveCeiling = noiseWarnings(
    [summary('mod12-memcache', 'returning', [1.4, 1.43, 1.45])],
    ORDER,
  );
  assert.ok(
    aboveCeiling.some((w) => /1\.43× the ceiling/.test(w)),
    aboveCeiling.join('\n'),
  );
});

function results(warnings: string[], runtimes = ['']): BenchResults {
  const s = (value: number): Spread => ({ median: value, min: value * 0.9, max: value * 1.1 });
  const rows: RowSummary[] = runtimes.flatMap((runtime) =>
    [
      ['ceiling', 'returning', 1],
      ['a<b>', 'new', 0.5],
    ].map(([target, workload, ratio]) => ({
      runtime,
      target: target as string,
      workload: workload as string,
      requestsPerSecond: s(1000 * (ratio as number)),
      p50: 1,
      p99: 2,
      errors: 0,
      ratio: target === 'ceiling' ? { median: 1, min: 1, max: 1 } : s(ratio as number),
      serverCpuPerRequest: s(100),
      cpuEfficiency: s(ratio as number),
      cached: false,
      datastoreWritesPerRequest: 0,
      datastoreQueriesPerRequest: 0,
      redisCallsPerRequest: 0,
    })),
  );
  return {
    command: 'npm run bench',
    date: '2026-11-27T00:00:00.000Z',
    machine: {
      cores: 2,
      cpu: 'AMD EPYC',
      benchNode: 'v20.20.2',
      loadAverageBefore: [0, 0, 0],
      loadAverageAfter: [0, 0, 0],
    },
    settings: { rounds: 3, seconds: 1, connections: 10, count: 200, generator: 'wrk 4.1.0' },
    runtimes: runtimes.map((label) => ({ label, version: label ? `v${label}.0.0` : 'v20.20.2' })),
    neighbours: s(0.1),
    generatorCpuPerRequest: 20,
    warnings,
    summaries: rows,
    counts: [],
    rounds: [],
  };
}

test('the chart: a bar and a spread whisker per row, a legend for the workloads, escaped labels', () => {
  const svg = barChart(results([]));
  assert.equal([...svg.matchAll(/<rect [^>]*height="20"/g)].length, 2, 'one bar per row');
  assert.equal([...svg.matchAll(/<rect [^>]*height="14"/g)].length, 3, 'three legend keys');
  assert.equal([...svg.matchAll(/class="spread"/g)].length, 1, 'a whisker for the stage');
  assert.match(svg, /width="420\.0"/, 'the ceiling spans the scale');
  assert.match(svg, /width="210\.0"/, 'half the ceiling, half as long');
  assert.match(svg, /a&#60;b&#62; · new/);
  assert.match(svg, /0\.50 \(0\.45–0\.55\)/);
  assert.doesNotMatch(svg, /Noisy run/);
  assert.match(barChart(results(['x & y'])), /Noisy run: x &#38; y/);
  const two = barChart(results([], ['22', '24']));
  assert.match(two, />Node\.js v22\.0\.0</);
  assert.match(two, />Node\.js v24\.0\.0</);
});

test('the reports say plainly when a run was noisy, and put runtimes side by side', () => {
  const noisy = results(['mod13-redis (returning visitor): ranged 0.41–2.14']);
  for (const text of [textReport(noisy), markdownReport(noisy)]) {
    assert.match(text, /WARNING: this machine was too noisy/);
    assert.match(text, /ranged 0\.41–2\.14/);
  }
  assert.match(textReport(results([])), /No sign of noise/);
  assert.match(
    markdownReport(results([])),
    /^\| a<b> \| new \| 500 \| 1\.0 \| 2\.0 \| 0\.50 \(0\.45–0\.55\) \| 100 \| 0\.50 \(0\.45–0\.55\) \| 0\.00 \| 0\.00 \| 0\.00 \| 0 \|$/m,
  );
  const both = textReport(results([], ['22', '24']));
  assert.match(both, /^Side by side$/m);
  assert.match(
    both,
    /v22\.0\.0 req\/s +v22\.0\.0 vs ceiling +v22\.0\.0 CPU µs\/req +v24\.0\.0 req\/s/,
  );
});

test('--node takes a path, or a major version found in the cache without fetching', () => {
  const say = () => {};
  const [own] = resolveRuntimes(process.execPath, say);
  assert.equal(own!.version, process.version);
  const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
  mkdirSync(join(cache, 'visitme', 'node-99', 'bin'), { recursive: true });
  symlinkSync(process.execPath, join(cache, 'visitme', 'node-99', 'bin', 'node'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  try {
    const [cached] = resolveRuntimes('99', say);
    assert.equal(cached!.label, '99');
    assert.equal(cached!.path, join(cache, 'visitme', 'node-99', 'bin', 'node'));
    assert.equal(cached!.version, process.version);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});
