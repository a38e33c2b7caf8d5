// npm run bench [-- --long] [-- --node=22,24] [-- --rounds=N] [-- --seconds=N]
//               [-- --connections=N] [-- --count=N] [-- --results=DIR]
// Starts a Datastore emulator and a redis-server (as npm start does), then each stage's real
// server, a ceiling server (the same page from memory: the fastest any stage could be here)
// and a Redis floor server (that page after a bare GET of the cached list: what a cache hit
// that reads Redis cannot cost less than), on each Node.js asked for. Then:
// - counts, for each stage and workload, what a fixed number of requests cost, every one
//   awaited: Datastore writes by the emulator (entities added), queries from each response's
//   Server-Timing, Redis calls by Redis itself (INFO commandstats). Exact on any machine.
// - measures speed in interleaved rounds, driven by wrk, with the server's CPU time (and
//   redis-server's, for a server that uses it). The servers and redis-server share one core,
//   wrk has another. Each cache hit is measured right beside a run of its runtime's ceiling,
//   and Module 13's beside the floor too, in alternating order from round to round: the host can
//   slow this VM's core for seconds at a time, and the figures are each hit's against the
//   runs beside it, medians over the rounds, with their spread.
// - says whether the machine was too noisy to trust the figures (stats.ts), and how much the
//   host's speed moved meanwhile.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  freePort,
  get,
  startLocalServices,
  startServer,
  type GroupProcess,
} from '@visitme/harness';
import { stages } from '@visitme/stages';
import { commandLine } from '@visitme/stages/command-line';
import { countRequests } from './count.js';
import { chooseCores, descendants, machineCpu, pin, processCpu, selfCpu } from './proc.js';
import {
  barChart,
  markdownReport,
  textReport,
  type BenchResults,
  type Count,
  type FloorSummary,
  type Run,
} from './report.js';
import { resolveRuntimes, type Runtime } from './runtimes.js';
import { emulatorDrift, hostSpeed, noiseWarnings, spread } from './stats.js';
import { findWrk, wrk, RETURNING_VISITOR, type Workload } from './wrk.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const returning = { 'user-agent': RETURNING_VISITOR };
const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor.js', import.meta.url));

const USAGE =
  'usage: npm run bench [-- [--long] [--rounds=N] [--seconds=N] [--connections=N] [--count=N] [--node=22,24] [--results=DIR]]';
const { values } = commandLine(
  {
    options: {
      long: { type: 'boolean' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      count: { type: 'string' },
      results: { type: 'string' },
      node: { type: 'string' },
    },
  },
  USAGE,
);
/** A plain message for what the user can fix, not a stack trace. */
function usage(message: string): never {
  process.stderr.write(`npm run bench: ${message}\n`);
  process.exit(2);
}
const positive = (name: string, value: string | undefined, fallback: number) => {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a whole number ≥ 1, not "${value}"`);
  return n;
};
const rounds = positive('rounds', values.rounds, values.long ? 21 : 7);
const seconds = positive('seconds', values.seconds, 1);
const connections = positive('connections', values.connections, 10);
const countPerRun = positive('count', values.count, 50);
const resultsDir = values.results ?? join(ROOT, 'results');
const command = ['npm run bench', ...process.argv.slice(2)].join(
  process.argv.length > 2 ? ' -- ' : '',
);

const started = performance.now();
const say = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);

let runtimes: Runtime[] = [];
try {
  findWrk();
  runtimes = resolveRuntimes(values.node);
} catch (error) {
  usage((error as Error).message);
}
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  benchNode: process.version,
  loadAverageBefore: loadavg().map((x) => Number(x.toFixed(2))),
};
const cores = chooseCores();
say(
  `${machine.cores} cores (${machine.cpu}), load average ${machine.loadAverageBefore.join(' ')}; ` +
    `servers on ${runtimes.map((r) => `Node ${r.version}`).join(', ')}` +
    (cores ? `, on CPU ${cores.servers}; wrk on CPU ${cores.generator}` : ''),
);

interface Target {
  runtime: Runtime;
  name: string;
  url: string;
  pid: number;
  project?: string;
  redisAdmin: Redis;
  redisPid: number;
}

/** A stage's server, not one of the bench's own (the ceiling and the floor). */
const isStage = (name: string) => name !== 'ceiling' && name !== 'floor';

// One emulator and one redis-server for every runtime's servers: the runs are one at a time,
// so each run's calls and CPU are its own.
const services = await startLocalServices({ redis: true });
const emulator = services.emulator!;
const redis = services.redisServer!;
const redisAdmin = new Redis({ host: redis.host, port: redis.port });
const servers: GroupProcess[] = [];
// Ctrl-C, or SIGTERM to npm (which passes it on): stop everything the bench started, and say
// so. A run in progress (wrk) ends first: a few seconds at most.
let stopping = false;
async function stopEverything() {
  redisAdmin.disconnect();
  await Promise.all(servers.map((server) => server.stop(5000)));
  await services.stop();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    void stopEverything().then(() => {
      say(
        `stopped everything it started: ${servers.length} servers, the Datastore emulator and ` +
          'redis-server. No figures were written.',
      );
      process.exit(0);
    });
  });
}
try {
  const redisPid = Number(/^process_id:(\d+)/m.exec(await redisAdmin.info('server'))?.[1]);
  if (cores) pin(redisPid, cores.servers);
  const targets: Target[] = [];
  for (const [index, runtime] of runtimes.entries()) {
    for (const { name, entry } of [
      { name: 'ceiling', entry: CEILING },
      { name: 'floor', entry: FLOOR },
      ...stages().map((stage) => ({ name: stage.name, entry: stage.server })),
    ]) {
      const port = await freePort();
      const project = `bench-${name}-${index}`;
      const server = await startServer(name, runtime.path, [entry], port, {
        env: {
          ...process.env,
          ...services.env,
          PORT: String(port),
          NODE_ENV: 'production',
          GOOGLE_CLOUD_PROJECT: project,
        },
      });
      servers.push(server);
      if (cores) pin(server.child.pid!, cores.servers);
      targets.push({
        runtime,
        name,
        url: `http://127.0.0.1:${port}`,
        pid: server.child.pid!,
        ...(isStage(name) && { project }),
        redisAdmin,
        redisPid,
      });
    }
  }
  const ours = await descendants(); // the servers, the emulator's JVM, redis-server

  const pairs = targets.flatMap((target) =>
    (isStage(target.name) ? ['returning', 'new'] : ['returning']).map((workload) => ({
      target,
      workload: workload as Workload,
    })),
  );

  type Pair = (typeof pairs)[number];

  // Exact counts first (which also warm each server up), a fixed number of requests each.
  say(`counting what ${countPerRun} requests cost, for each target and workload`);
  const counts: Count[] = [];
  for (const { target, workload } of pairs) {
    const runId = `${process.pid}-count-${counts.length}`;
    if (workload === 'returning') await get(`${target.url}/`, returning); // the cache holds it
    const redisBefore = await redisCalls(target.redisAdmin);
    const entitiesBefore = target.project ? await emulator.count(target.project, 'Visit') : 0;
    const tally = await countRequests({
      url: target.url,
      workload,
      requests: countPerRun,
      connections,
      runId,
    });
    const redisUsed = (await redisCalls(target.redisAdmin)) - redisBefore;
    const entitiesAdded = target.project
      ? (await emulator.count(target.project, 'Visit')) - entitiesBefore
      : 0;
    counts.push({
      runtime: target.runtime.label,
      target: target.name,
      workload,
      requests: tally.requests,
      errors: tally.errors,
      datastoreWrites: entitiesAdded,
      datastoreQueries: tally.datastoreQueries,
      cacheHits: tally.cacheHits,
      redisCalls: redisUsed,
    });
  }
  const countOf = (target: Target, workload: string) =>
    counts.find(
      (c) =>
        c.runtime === target.runtime.label && c.target === target.name && c.workload === workload,
    )!;
  const usesRedis = (target: Target) =>
    counts.some(
      (c) => c.runtime === target.runtime.label && c.target === target.name && c.redisCalls > 0,
    );

  // Runs that reach Datastore leave the emulator's JVM busy for a while after: they are
  // measured apart from the cheap runs (see the rounds below).
  const datastoreBound = (pair: Pair) => countOf(pair.target, pair.workload).datastoreQueries > 0;
  const cheap = pairs.filter((pair) => !datastoreBound(pair));
  const dear = pairs.filter(datastoreBound);
  const rotate = <T>(list: T[], by: number) => list.map((_, i) => list[(i + by) % list.length]!);

  // The counting phase warmed every server a little; the cheap runs, where the JIT shows most,
  // get a second of load each on top.
  say(`warming up: ${cheap.length} runs of 1 s`);
  for (const { target, workload } of cheap) {
    if (workload === 'returning') await get(`${target.url}/`, returning);
    wrk({
      url: target.url,
      workload,
      connections,
      seconds: 1,
      runId: `${process.pid}-warm`,
      cpu: cores?.generator,
    });
  }

  const servedFromCache = (c: Count) => c.cacheHits === c.requests;
  const redisHits = targets.filter(
    (target) => usesRedis(target) && servedFromCache(countOf(target, 'returning')),
  );

  /** One run of `wrk` against a target, with what its server (and Redis) spent on it. */
  const measure = async ({ target, workload }: Pair, round: number): Promise<Run> => {
    if (workload === 'returning') await get(`${target.url}/`, returning);
    const pids = [target.pid, ...(usesRedis(target) ? [target.redisPid] : [])];
    const before = await snapshot(pids, ours);
    const result = wrk({
      url: target.url,
      workload,
      connections,
      seconds,
      runId: `${process.pid}-${round}`,
      cpu: cores?.generator,
    });
    const after = await snapshot(pids, ours);
    const wall = (after.at - before.at) / 1000;
    const perRequest = (ms: number) => (ms * 1000) / result.requests; // µs
    const machineMs = after.machine.busy - before.machine.busy;
    const ourMs = after.ours - before.ours;
    return {
      runtime: target.runtime.label,
      target: target.name,
      workload,
      ...result,
      serverCpuPerRequest: perRequest(after.server - before.server),
      generatorCpuPerRequest: perRequest(after.generator - before.generator),
      // Cores' worth of CPU time that neither this bench nor its servers used: neighbours.
      othersCores: Math.max(0, machineMs - ourMs) / 1000 / wall,
    };
  };

  // Phase one, the cache hits: each right beside a run of its runtime's ceiling (the two a
  // second apart, on the same core), and a hit that reads Redis beside the Redis floor too,
  // in one order in even rounds and the other in odd ones. Each hit's figures are taken
  // against the runs beside it: the host can slow this VM for seconds at a time, as much as
  // twice, and a stage and a ceiling measured ten seconds apart would compare two speeds.
  // Phase two, the runs that reach Datastore, every round of them: each leaves the emulator's
  // JVM collecting garbage for seconds after, and on two cores that slows whatever runs next.
  const reference = (runtime: Runtime, name: 'ceiling' | 'floor') =>
    pairs.find((pair) => pair.target.runtime === runtime && pair.target.name === name)!;
  const hits = cheap.filter((pair) => isStage(pair.target.name));
  const groups: Pair[][] = [
    ...hits.map((hit) => [
      reference(hit.target.runtime, 'ceiling'),
      hit,
      ...(redisHits.includes(hit.target) ? [reference(hit.target.runtime, 'floor')] : []),
    ]),
    // A runtime without a cache hit still gets a ceiling run a round, for its other rows.
    ...runtimes
      .filter((runtime) => !hits.some((hit) => hit.target.runtime === runtime))
      .map((runtime) => [reference(runtime, 'ceiling')]),
  ];
  const allRounds: BenchResults['rounds'] = Array.from({ length: rounds }, (_, round) => ({
    round: round + 1,
    runs: [] as Run[],
  }));
  await settle(ours, 10_000); // after the counting phase's writes
  for (const [round, { runs }] of allRounds.entries()) {
    say(
      `round ${round + 1} of ${rounds}: ${hits.length} cache hits of ${seconds} s, each beside ` +
        `a ceiling run${redisHits.length ? ' (and the Redis floor, for Redis)' : ''}`,
    );
    for (const group of rotate(groups, round)) {
      let ceiling: number | undefined;
      const beside: Run[] = [];
      for (const step of round % 2 ? [...group].reverse() : group) {
        // The floor reads what the hit beside it reads: the returning visitor's list.
        const hit = group.find((pair) => isStage(pair.target.name));
        if (step.target.name === 'floor') await get(`${hit!.target.url}/`, returning);
        const run = await measure(step, round);
        if (step.target.name === 'ceiling') ceiling = runs.length;
        else beside.push(run);
        runs.push(run);
      }
      for (const run of beside) run.ceilingRun = ceiling;
    }
  }
  for (const [round, { runs }] of allRounds.entries()) {
    await settle(ours);
    say(
      `round ${round + 1} of ${rounds}: ${dear.length} runs of ${seconds} s that reach Datastore`,
    );
    for (const pair of rotate(dear, round)) {
      const run = await measure(pair, round);
      run.ceilingRun = runs.findIndex((r) => r.runtime === run.runtime && r.target === 'ceiling');
      runs.push(run);
    }
  }

  /** Each round's runs of a row, and the ceiling run each was taken against. */
  const runsOf = (target: Target, workload: string) =>
    allRounds.flatMap(({ runs }) =>
      runs
        .filter(
          (r) =>
            r.runtime === target.runtime.label &&
            r.target === target.name &&
            r.workload === workload,
        )
        .map((run) => ({
          run,
          ceiling: run.ceilingRun === undefined ? run : runs[run.ceilingRun]!,
        })),
    );

  // The floor is measured only beside a hit that reads Redis: without one it has no row.
  const measured = pairs.filter(({ target, workload }) => runsOf(target, workload).length > 0);
  const summaries = measured.map(({ target, workload }) => {
    const mine = runsOf(target, workload).map(({ run, ceiling }) => ({
      run,
      ratio: run.requestsPerSecond / ceiling.requestsPerSecond,
      cpuOverCeiling: run.serverCpuPerRequest - ceiling.serverCpuPerRequest,
      cpuEfficiency: ceiling.serverCpuPerRequest / run.serverCpuPerRequest,
    }));
    const c = countOf(target, workload);
    return {
      runtime: target.runtime.label,
      target: target.name,
      workload,
      requestsPerSecond: spread(mine.map(({ run }) => run.requestsPerSecond)),
      p50: spread(mine.map(({ run }) => run.p50)).median,
      p99: spread(mine.map(({ run }) => run.p99)).median,
      errors: mine.reduce((sum, { run }) => sum + run.errors, 0) + c.errors,
      ratio: spread(mine.map(({ ratio }) => ratio)),
      serverCpuPerRequest: spread(mine.map(({ run }) => run.serverCpuPerRequest)),
      cpuOverCeiling: spread(mine.map(({ cpuOverCeiling }) => cpuOverCeiling)),
      cpuEfficiency: spread(mine.map(({ cpuEfficiency }) => cpuEfficiency)),
      cached: servedFromCache(c),
      datastoreBound: c.datastoreQueries > 0,
      datastoreWritesPerRequest: c.datastoreWrites / c.requests,
      datastoreQueriesPerRequest: c.datastoreQueries / c.requests,
      redisCallsPerRequest: c.redisCalls / c.requests,
    };
  });

  const floors = redisHits.map((target): FloorSummary => {
    const hitRuns = runsOf(target, 'returning');
    const floorRuns = runsOf(reference(target.runtime, 'floor').target, 'returning');
    const over = ({ run, ceiling }: (typeof hitRuns)[number]) =>
      run.serverCpuPerRequest - ceiling.serverCpuPerRequest;
    return {
      runtime: target.runtime.label,
      overCeiling: spread(floorRuns.map(over)),
      hit: {
        target: target.name,
        overCeiling: spread(hitRuns.map(over)),
        // Round by round: the hit and the floor beside it, a second apart.
        aboveFloor: spread(
          hitRuns.map(
            ({ run }, round) => run.serverCpuPerRequest - floorRuns[round]!.run.serverCpuPerRequest,
          ),
        ),
      },
    };
  });

  const everyRun = allRounds.flatMap(({ runs }) => runs);
  const neighbours = spread(everyRun.map((run) => run.othersCores));
  const warnings = noiseWarnings(summaries, ['ceiling', ...stages().map((stage) => stage.name)], {
    cores: neighbours,
    machineCores: machine.cores,
  });
  const notes = emulatorDrift(
    summaries
      .filter((s) => s.datastoreBound)
      .map((s) => ({
        ...s,
        requestsPerSecond: allRounds.map(
          ({ runs }) =>
            runs.find(
              (r) => r.runtime === s.runtime && r.target === s.target && r.workload === s.workload,
            )!.requestsPerSecond,
        ),
      })),
  );
  const errors = summaries.filter((s) => s.errors > 0);
  for (const s of errors) {
    const where = s.runtime ? `, Node ${s.runtime}` : '';
    warnings.push(`${s.target} (${s.workload} visitor${where}): ${s.errors} failed requests`);
  }
  const results: BenchResults = {
    command,
    date: new Date().toISOString(),
    machine: { ...machine, loadAverageAfter: loadavg().map((x) => Number(x.toFixed(2))) },
    settings: {
      rounds,
      seconds,
      connections,
      count: countPerRun,
      generator: wrkVersion(),
      ...(cores && { cores }),
    },
    runtimes: runtimes.map(({ label, version }) => ({ label, version })),
    neighbours,
    generatorCpuPerRequest:
      everyRun.reduce((sum, run) => sum + run.generatorCpuPerRequest * run.requests, 0) /
      everyRun.reduce((sum, run) => sum + run.requests, 0),
    warnings,
    hostSpeed: hostSpeed(summaries.filter((s) => s.target === 'ceiling')),
    notes,
    summaries,
    floors,
    counts,
    rounds: allRounds,
  };

  process.stdout.write(`\n${textReport(results)}`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'bench.md'), markdownReport(results));
  writeFileSync(join(resultsDir, 'bench.svg'), barChart(results));
  writeFileSync(join(resultsDir, 'bench.json'), JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\nWrote ${join(resultsDir, 'bench.md')}, bench.svg and bench.json\n`);
} catch (error) {
  // A run cut short by the stop fails; the stop says what happened.
  if (stopping) await new Promise(() => {});
  throw error;
} finally {
  if (!stopping) await stopEverything();
}

/** Every command Redis has run so far, by its own count (INFO itself left out). */
async function redisCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  let total = 0;
  for (const [, command, calls] of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (command !== 'info') total += Number(calls);
  }
  return total;
}

/** CPU time so far (ms): of the measured processes, of wrk (exited children), of all ours. */
async function snapshot(pids: number[], ours: number[]) {
  const self = selfCpu();
  return {
    at: performance.now(),
    server: await processCpu(pids),
    generator: self.exitedChildren,
    ours: (await processCpu(ours)) + self.own + self.exitedChildren,
    machine: machineCpu(),
  };
}

/** Waits (at most `ms`) until our processes, the emulator's JVM above all, are nearly idle. */
async function settle(pids: number[], ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const before = await processCpu(pids);
    await new Promise((resolve) => setTimeout(resolve, 200));
    if ((await processCpu(pids)) - before < 20) return; // under 10% of a core
  }
}

function wrkVersion(): string {
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8' });
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '');
    return /^wrk \S+/.exec(out)?.[0] ?? 'wrk';
  }
  return 'wrk';
}
