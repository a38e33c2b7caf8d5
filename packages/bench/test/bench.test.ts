// Not a speed test: figures are for people to read (npm run bench). This checks that a short
// run works end to end, that its report has the shape the README promises (interleaved rounds,
// each cache hit beside a ceiling run, every round kept, medians with their spread, the Redis
// floor beside Module 13's hit in every round), how it judges noise (from figures made up here), where it runs what
// it measures, and that what it counts is exact: every miss
// is one Datastore write and one query, a returning visitor to a cached stage costs Datastore
// nothing, and Redis sees one call per hit and two per miss. The counts come from a fixed
// number of requests, every one awaited, so they are exact however busy the machine is.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startCommand } from '@visitme/harness';
import {
  barChart,
  markdownReport,
  textReport,
  type BenchResults,
  type FloorSummary,
  type RowSummary,
  type Run,
} from '../src/report.js';
import { chooseCores, onCpu, pin } from '../src/proc.js';
import { resolveRuntimes } from '../src/runtimes.js';
import {
  emulatorDrift,
  hostSpeed,
  noiseWarnings,
  spread,
  type Neighbours,
  type Spread,
  type Summary,
} from '../src/stats.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BENCH = fileURLToPath(new URL('../src/bench.js', import.meta.url));
const STAGES = ['mod1-baseline', 'mod12-memcache', 'mod13-redis'];
const PAIRS = [
  'ceiling returning',
  'floor returning',
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
      '--connections=1', // wrk and a server taking turns: one core busy, not two
      `--count=${count}`,
      `--results=${results}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const report: BenchResults = JSON.parse(readFileSync(join(results, 'bench.json'), 'utf8'));

  // Every round holds every target and workload once, and a ceiling run beside each cache hit
  // (the two in one order in the first round, the other in the second).
  assert.equal(report.rounds.length, 2, 'rounds kept');
  const HITS = ['mod12-memcache returning', 'mod13-redis returning'];
  const orders = report.rounds.map(({ runs }) => runs.map((r) => `${r.target} ${r.workload}`));
  for (const [index, order] of orders.entries()) {
    const otherRuns = order.filter((what) => what !== 'ceiling returning');
    assert.deepEqual(
      [...otherRuns].sort(),
      PAIRS.filter((p) => p !== 'ceiling returning').sort(),
      `round ${index + 1}: ${order}`,
    );
    assert.equal(order.length - otherRuns.length, HITS.length, `round ${index + 1}: ${order}`);
  }
  assert.notDeepEqual(orders[0], orders[1], 'the second round runs in another order');
  for (const [index, { runs }] of report.rounds.entries()) {
    for (const [at, run] of runs.entries()) {
      const what = `round ${index + 1}, ${run.target} ${run.workload}`;
      if (run.target === 'ceiling') {
        assert.equal(run.ceilingRun, undefined, what);
        continue;
      }
      const ceiling = runs[run.ceilingRun!];
      assert.equal(ceiling?.target, 'ceiling', `${what}: taken against ${ceiling?.target}`);
      if (HITS.includes(`${run.target} ${run.workload}`)) {
        assert.equal(run.ceilingRun, index === 0 ? at - 1 : at + 1, `${what}: beside its ceiling`);
      }
      if (run.target === 'floor') {
        const hit = runs[index === 0 ? at - 1 : at + 1];
        assert.equal(`${hit?.target} ${hit?.workload}`, 'mod13-redis returning', what);
      }
    }
  }
  for (const run of report.rounds.flatMap(({ runs }) => runs)) {
    const what = `${run.target} ${run.workload}`;
    assert.equal(run.errors, 0, `${what}: ${run.errors} errors`);
    for (const key of ['requests', 'serverCpuPerRequest', 'p50', 'p99', 'othersCores'] as const) {
      assert.ok(Number.isFinite(run[key]) && run[key] >= 0, `${what}: ${key} is ${run[key]}`);
    }
  }
  const cores = chooseCores();
  assert.deepEqual(report.settings.cores, cores, 'the servers on one core, wrk on another');

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
  assert.deepEqual(ceiling.ratio, { median: 1, min: 1, max: 1, q1: 1, q3: 1 });
  assert.deepEqual(ceiling.cpuOverCeiling, { median: 0, min: 0, max: 0, q1: 0, q3: 0 });
  assert.deepEqual(
    report.summaries.filter((s) => s.datastoreBound).map((s) => `${s.target} ${s.workload}`),
    ['mod1-baseline returning', ...STAGES.map((stage) => `${stage} new`)],
    'the rows that reach Datastore, from the counts',
  );

  // The Redis floor: a row of its own, a GET a page and no cache hit, and Module 13's hit
  // against it round by round.
  const row = (target: string, workload: string) =>
    report.summaries.find((s) => s.target === target && s.workload === workload)!;
  assert.equal(row('floor', 'returning').redisCallsPerRequest, 1);
  assert.equal(row('floor', 'returning').cached, false);
  assert.equal(report.floors.length, 1);
  const [floor] = report.floors;
  assert.deepEqual(floor!.overCeiling, row('floor', 'returning').cpuOverCeiling);
  assert.equal(floor!.hit.target, 'mod13-redis');
  assert.deepEqual(floor!.hit.overCeiling, row('mod13-redis', 'returning').cpuOverCeiling);
  const cpuOf = (runs: Run[], target: string) =>
    runs.find((r) => r.target === target && r.workload === 'returning')!.serverCpuPerRequest;
  assert.deepEqual(
    floor!.hit.aboveFloor,
    spread(report.rounds.map(({ runs }) => cpuOf(runs, 'mod13-redis') - cpuOf(runs, 'floor'))),
  );

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
  assert.equal(redis('floor', 'returning'), count, 'GET per page');
  for (const pair of PAIRS.filter((p) => !p.startsWith('mod13') && !p.startsWith('floor'))) {
    const [target, workload] = pair.split(' ') as [string, string];
    assert.equal(redis(target, workload), 0, `${pair}: Redis calls`);
  }
  assert.equal(row('mod13-redis', 'new').redisCallsPerRequest, 2);
  assert.equal(row('mod12-memcache', 'returning').datastoreWritesPerRequest, 0);

  // What a person reads.
  assert.match(output, /Target +Workload +Requests\/s +p50 ms +p99 ms +vs ceiling \(min–max\)/);
  assert.match(output, /CPU µs\/req +µs over ceiling \(min–max\)/);
  assert.match(output, /^Redis round trip's floor .*: [\d.-]+ µs of CPU per request over the/m);
  assert.match(output, /^mod13-redis's cache hit: [\d.-]+ µs over the ceiling, [\d.-]+ µs above/m);
  assert.match(output, /No sign of noise|WARNING: this machine was too noisy/);
  assert.match(
    output,
    /the servers and redis-server on CPU \d+, wrk \S+ on CPU \d+|no `taskset` here/,
  );
  const md = readFileSync(join(results, 'bench.md'), 'utf8');
  assert.match(md, /^\| mod13-redis \| returning \| \d+ \|/m);
  assert.match(md, /^## Noise$/m);
  const svg = readFileSync(join(results, 'bench.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /new visitor \(every request misses\)/);
});

function summary(target: string, workload: string, ratio: number[], cpu = ratio): Summary {
  const ours = target === 'ceiling' || target === 'floor'; // the bench's own servers
  const cached = workload === 'returning' && !ours && target !== 'mod1-baseline';
  return {
    runtime: '',
    target,
    workload,
    requestsPerSecond: spread(ratio.map((r) => r * 3000)),
    serverCpuPerRequest: spread(cpu.map((c) => 60 / c)),
    ratio: spread(ratio),
    cpuEfficiency: spread(cpu),
    cached,
    datastoreBound: !cached && !ours,
  };
}
const ORDER = ['ceiling', ...STAGES];
const QUIET: Neighbours = { cores: spread([0, 0.01, 0.02]), machineCores: 2 };

test('medians, quartiles and spreads: odd and even counts, and what is not a number left out', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, q1: 1.5, q3: 2.5 });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, q1: 1.75, q3: 3.25 });
  assert.deepEqual(spread([1, NaN, Infinity, 5]), { median: 3, min: 1, max: 5, q1: 2, q3: 4 });
  // Seven rounds, one of them far off: the middle half leaves it out.
  const s = spread([0.95, 0.96, 0.5, 0.97, 0.98, 0.99, 1.0]);
  assert.deepEqual([s.median, s.q1, s.q3, s.min], [0.97, 0.955, 0.985, 0.5]);
});

test('a steady run raises no warning; a wide spread or an impossible order does, with figures', () => {
  const steady = [
    summary('ceiling', 'returning', [1, 1, 1]),
    summary('mod12-memcache', 'returning', [0.9, 0.93, 0.95]),
    summary('mod13-redis', 'returning', [0.72, 0.75, 0.78]),
    summary('mod13-redis', 'new', [0.02, 0.021, 0.022]),
  ];
  assert.deepEqual(noiseWarnings(steady, ORDER, QUIET), []);

  const wide = noiseWarnings(
    [summary('mod12-memcache', 'returning', [0.6, 0.7, 0.93, 1.1, 1.2], [0.9, 0.9, 0.9])],
    ORDER,
    QUIET,
  );
  assert.equal(wide.length, 1, wide.join('\n'));
  assert.match(
    wide[0]!,
    /^mod12-memcache \(returning visitor\): its ratio to the ceiling ranged 0\.70–1\.10 in the middle half of the rounds \(±22%, wider than ±10%; 0\.60–1\.20 in all\)$/,
  );

  const upsideDown = noiseWarnings(
    [
      summary('mod12-memcache', 'returning', [0.6, 0.62, 0.64]),
      summary('mod13-redis', 'returning', [0.8, 0.82, 0.84]),
    ],
    ORDER,
    QUIET,
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
    QUIET,
  );
  assert.ok(
    aboveCeiling.some((w) => /1\.43× the ceiling/.test(w)),
    aboveCeiling.join('\n'),
  );
});

test('a quiet run is not called noisy for what the Datastore emulator or the host does, nor for a hit at the ceiling', () => {
  // The host ran the VM's core at half speed for part of the run: the ceiling's own figures
  // swing, a hit's against the ceiling beside it hold, and one round in seven that caught the
  // change between its two runs is left out of the middle half.
  const ceiling: Summary = {
    ...summary('ceiling', 'returning', [1, 1, 1], [1, 1, 1]),
    requestsPerSecond: spread([11000, 18000, 18500, 22000]),
    serverCpuPerRequest: spread([44, 53, 55, 91]),
  };
  const quiet = [
    ceiling,
    // Module 12's hit does next to nothing more than the ceiling: a hair either side of it.
    summary('mod12-memcache', 'returning', [0.99, 1.02, 1.04], [0.97, 1.01, 1.03]),
    summary('mod13-redis', 'returning', [0.7, 0.71, 0.72, 0.72, 0.73, 0.74, 1.3]),
    // The rows that reach the emulator swing as it fills: ±40%.
    summary('mod1-baseline', 'returning', [0.04, 0.06, 0.08]),
    summary('mod13-redis', 'new', [0.02, 0.03, 0.045]),
  ];
  assert.deepEqual(noiseWarnings(quiet, ORDER, QUIET), []);

  // What the host did is said, as the ceiling's own CPU per request.
  assert.deepEqual(hostSpeed([{ ...ceiling, runtime: '24' }]), [
    'the ceiling on Node 24 took 44–91 µs of CPU per request across its runs (median 54, ±44%)',
  ]);
  assert.deepEqual(hostSpeed([summary('ceiling', 'returning', [1, 1, 1])]), []);

  // What the emulator did is said, as its drift, row by row.
  const drift = emulatorDrift([
    {
      runtime: '22',
      target: 'mod1-baseline',
      workload: 'returning',
      requestsPerSecond: [231, 180, 130],
    },
    { runtime: '22', target: 'mod1-baseline', workload: 'new', requestsPerSecond: [200, 230, 205] },
    { runtime: '22', target: 'mod12-memcache', workload: 'new', requestsPerSecond: [150, 170] },
  ]);
  assert.deepEqual(drift, [
    'mod1-baseline (returning visitor, Node 22): 231 requests/s in the first round, 130 in the last (−44%)',
    'mod12-memcache (new visitor, Node 22): 150 requests/s in the first round, 170 in the last (+13%)',
  ]);
});

test('a busy neighbour, or a CPU-bound figure that swings, makes the run noisy, with figures', () => {
  const steady = [
    summary('ceiling', 'returning', [1, 1, 1]),
    summary('mod12-memcache', 'returning', [0.95, 0.97, 0.99]),
  ];
  // `node -e 'for(;;){}'` beside the bench: one core of two.
  const busy = noiseWarnings(steady, ORDER, { cores: spread([0.9, 1, 1.1]), machineCores: 2 });
  assert.equal(busy.length, 1, busy.join('\n'));
  assert.match(busy[0]!, /other processes used 1\.00 of the machine's 2 cores/);

  // Rounds whose two runs met different speeds, or a neighbour in one and not the other.
  const hitCpu = noiseWarnings(
    [summary('mod13-redis', 'returning', [0.7, 0.71, 0.72], [0.5, 0.52, 0.65, 0.7, 0.72])],
    ORDER,
    QUIET,
  );
  assert.equal(hitCpu.length, 1, hitCpu.join('\n'));
  assert.match(hitCpu[0]!, /mod13-redis .*CPU efficiency .*0\.52–0\.70 in the middle half/);

  const floor = noiseWarnings(
    [summary('floor', 'returning', [0.6, 0.61, 0.62], [0.3, 0.36, 0.45, 0.5, 0.6])],
    ORDER,
    QUIET,
  );
  assert.equal(floor.length, 1, floor.join('\n'));
  assert.match(floor[0]!, /^floor \(returning visitor\): its CPU efficiency .*0\.36–0\.50/);

  // Beyond the tolerance, a hit cheaper than the ceiling is impossible, so noise.
  const cheaper = noiseWarnings(
    [summary('mod12-memcache', 'returning', [1, 1.01, 1.02], [1.1, 1.12, 1.14])],
    ORDER,
    QUIET,
  );
  assert.ok(
    cheaper.some((w) => /less CPU per request than the ceiling \(1\.12×\)/.test(w)),
    cheaper.join('\n'),
  );
});

function results(
  warnings: string[],
  runtimes = [''],
  notes: string[] = [],
  hostSpeed: string[] = [],
): BenchResults {
  const s = (value: number): Spread => ({
    median: value,
    min: value * 0.9,
    max: value * 1.1,
    q1: value * 0.95,
    q3: value * 1.05,
  });
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
      ratio: target === 'ceiling' ? spread([1]) : s(ratio as number),
      serverCpuPerRequest: s(100),
      cpuOverCeiling: target === 'ceiling' ? spread([0]) : s(1234.5),
      cpuEfficiency: s(ratio as number),
      cached: false,
      datastoreBound: target !== 'ceiling',
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
    hostSpeed,
    notes,
    summaries: rows,
    floors: runtimes.map((runtime): FloorSummary => ({
      runtime,
      overCeiling: s(23),
      hit: { target: 'mod13-redis', overCeiling: s(27), aboveFloor: s(4) },
    })),
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
    /^\| a<b> \| new \| 500 \| 1\.0 \| 2\.0 \| 0\.50 \(0\.45–0\.55\) \| 100 \| 1235 \(1111–1358\) \| 0\.50 \(0\.45–0\.55\) \| 0\.00 \| 0\.00 \| 0\.00 \| 0 \|$/m,
  );
  assert.match(
    markdownReport(results([])),
    /^\| ceiling \| returning \| .* \| 0\.0 \(0\.0–0\.0\) \|/m,
  );
  const both = textReport(results([], ['22', '24']));
  assert.match(both, /^Side by side$/m);
  assert.match(
    both,
    /v22\.0\.0 req\/s +v22\.0\.0 vs ceiling +v22\.0\.0 CPU µs\/req +v22\.0\.0 over ceiling +v24\.0\.0 req\/s/,
  );
});

test("the reports give each runtime's Redis floor, and the hit against it, under its table", () => {
  for (const text of [
    textReport(results([], ['22', '24'])),
    markdownReport(results([], ['22', '24'])),
  ]) {
    const floors = [
      ...text.matchAll(
        /^Redis round trip's floor \(the ceiling's page after a bare ioredis GET of the cached list and JSON\.parse, the floor row\): 23\.0 µs of CPU per request over the ceiling, client and redis-server \(20\.7–25\.3 across rounds\)\.$/gm,
      ),
    ];
    assert.equal(floors.length, 2, text);
    const hits = [
      ...text.matchAll(
        /^mod13-redis's cache hit: 27\.0 µs over the ceiling, 4\.0 µs above the floor \(3\.6–4\.4 across rounds\)\.$/gm,
      ),
    ];
    assert.equal(hits.length, 2, text);
    assert.ok(
      text.indexOf('Node.js v22.0.0') < floors[0]!.index! &&
        floors[0]!.index! < text.indexOf('Node.js v24.0.0'),
    );
  }
});

test('the emulator’s drift is said as such, apart from the noise verdict', () => {
  const drift =
    'mod1-baseline (returning visitor): 231 requests/s in the first round, 130 in the last (−44%)';
  for (const text of [
    textReport(results([], [''], [drift])),
    markdownReport(results([], [''], [drift])),
  ]) {
    assert.match(text, /No sign of noise/);
    assert.match(text, /Not noise: the rows that reach Datastore run at the emulator’s speed/);
    assert.ok(text.includes(`- ${drift}`), text);
  }
  assert.doesNotMatch(textReport(results([])), /Not noise/);
});

test('the reports say how far the host’s speed moved, apart from the noise verdict', () => {
  const moved = 'the ceiling on Node 24 took 44–91 µs of CPU per request across its runs';
  for (const text of [
    textReport(results([], [''], [], [moved])),
    markdownReport(results([], [''], [], [moved])),
  ]) {
    assert.match(text, /No sign of noise/);
    assert.ok(text.includes(`The host’s speed moved during the run: ${moved}.`), text);
  }
  assert.doesNotMatch(textReport(results([])), /speed moved/);
});

const cores = chooseCores();
test(
  'what it measures runs on one core, wrk on another',
  { skip: !cores && 'no taskset, or one core' },
  async () => {
    assert.notEqual(cores!.servers, cores!.generator);
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      pin(sleeper.pid!, cores!.servers);
      const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(
        readFileSync(`/proc/${sleeper.pid}/status`, 'utf8'),
      )?.[1];
      assert.equal(allowed, String(cores!.servers));
    } finally {
      sleeper.kill();
    }
    const [command, args] = onCpu(cores!.generator, 'sh', [
      '-c',
      'grep Cpus_allowed_list /proc/self/status',
    ]);
    assert.match(
      execFileSync(command, args, { encoding: 'utf8' }),
      new RegExp(`:\\s*${cores!.generator}\\n`),
    );
    assert.deepEqual(onCpu(undefined, 'wrk', ['--version']), ['wrk', ['--version']]);
  },
);

test('SIGTERM to npm run bench stops everything it started, and says so', async () => {
  const results = mkdtempSync(join(tmpdir(), 'bench-stopped-'));
  const bench = startCommand('npm', ['run', 'bench', '--', '--rounds=1', `--results=${results}`], {
    cwd: ROOT,
  });
  try {
    await bench.until('warming up'); // everything started, and wrk running
  } finally {
    const { exit, left } = await bench.stop();
    assert.deepEqual(left, [], 'everything it started has exited');
    assert.deepEqual(exit, [0, null], bench.output());
  }
  assert.match(
    bench.output(),
    /\] stopped everything it started: \d+ servers, the Datastore emulator and redis-server\. No figures were written\.\n$/,
  );
  assert.equal(existsSync(join(results, 'bench.json')), false);
});

test('--node takes a path, or a major version found in the cache without fetching', () => {
  const [own] = resolveRuntimes(process.execPath);
  assert.equal(own!.version, process.version);
  // A Node.js 99 in the cache, as scripts/node-bin leaves one (a stand-in: there is no 99).
  const cache = mkdtempSync(join(tmpdir(), 'bench-cache-'));
  const node = join(cache, 'visitme', 'node-99', 'bin', 'node');
  mkdirSync(dirname(node), { recursive: true });
  writeFileSync(node, '#!/bin/sh\necho v99.0.0\n', { mode: 0o755 });
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  try {
    const [cached] = resolveRuntimes('99');
    assert.equal(cached!.label, '99');
    assert.equal(cached!.path, node);
    assert.equal(cached!.version, 'v99.0.0');
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});
