// npm run bench [-- --long] [-- --seconds=N] [-- --connections=N] [-- --results=DIR]
//                [-- --server-node=PATH]   run the servers on another Node.js (App Engine's 22, 24)
// Starts a Datastore emulator and a redis-server (the test harness), then each stage's real
// server and a ceiling server (the same page from memory: the fastest any stage could be
// here), and drives each from a separate load process. Datastore writes are counted by the
// emulator (entities added), queries from each response's Server-Timing (a page rendered from
// a list fresh from Datastore), Redis calls by Redis itself (INFO commandstats). Requests still
// in flight when a run ends are counted by the servers but not answered: hence 1.01, not 1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import {
  freePort,
  spawnGroup,
  startDatastoreEmulator,
  startRedisServer,
  untilListening,
  type GroupProcess,
} from '@visitme/harness';
import { stages } from '@visitme/stage-diff';
import type { LoadOptions, LoadResult, Workload } from './load.js';
import { barChart, markdownTable, textTable, type Row } from './report.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));
const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));

const { values } = parseArgs({
  options: {
    long: { type: 'boolean' },
    seconds: { type: 'string' },
    connections: { type: 'string' },
    results: { type: 'string' },
    'server-node': { type: 'string' },
  },
});
const duration = Number(values.seconds ?? (values.long ? 20 : 5));
const connections = Number(values.connections ?? 10);
const resultsDir = values.results ?? join(ROOT, 'results');
const serverNode = values['server-node'] ?? process.execPath;
const serverNodeVersion = execFileSync(serverNode, ['--version'], { encoding: 'utf8' }).trim();

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const [emulator, redis] = await Promise.all([startDatastoreEmulator(), startRedisServer()]);
const servers: GroupProcess[] = [];
const redisAdmin = new Redis({ host: redis.host, port: redis.port });

try {
  const targets: Array<{ name: string; url: string; project?: string }> = [];
  for (const name of ['ceiling', ...stages()]) {
    const port = await freePort();
    const project = `bench-${name}`;
    const entry =
      name === 'ceiling' ? CEILING : join(ROOT, 'modules', name, 'dist', 'src', 'server.js');
    const server = spawnGroup(serverNode, [entry], {
      env: {
        ...process.env,
        ...redis.env,
        PORT: String(port),
        NODE_ENV: 'production',
        DATASTORE_EMULATOR_HOST: emulator.host,
        GOOGLE_CLOUD_PROJECT: project,
        METADATA_SERVER_DETECTION: 'none',
      },
    });
    servers.push(server);
    await untilListening(name, port, server);
    targets.push({ name, url: `http://127.0.0.1:${port}`, ...(name !== 'ceiling' && { project }) });
  }

  // Cheap runs first: after thousands of writes the emulator's JVM keeps a core busy for a while,
  // and that would count against whatever ran next. The table keeps stage order.
  const runs = targets
    .flatMap((target) =>
      (target.name === 'ceiling' ? ['returning'] : ['returning', 'new']).map((workload) => ({
        target,
        workload: workload as Workload,
        datastoreBound: target.name === 'mod1-baseline' || workload === 'new',
      })),
    )
    .sort((a, b) => Number(a.datastoreBound) - Number(b.datastoreBound));
  const rows: Row[] = [];
  let ceiling = 0;
  for (const { target, workload } of runs) {
    say(`${target.name}, ${workload} visitor: ${duration} s with ${connections} connections`);
    load({ url: target.url, workload, connections, duration: 1 }); // warm up: JIT, cache, pools
    const redisBefore = await redisCalls();
    const entitiesBefore = target.project ? await emulator.count(target.project, 'Visit') : 0;
    const result = load({ url: target.url, workload, connections, duration });
    const redisUsed = (await redisCalls()) - redisBefore;
    const entitiesAdded = target.project
      ? (await emulator.count(target.project, 'Visit')) - entitiesBefore
      : 0;
    if (target.name === 'ceiling') ceiling = result.requestsPerSecond;
    rows.push({
      target: target.name,
      workload,
      requestsPerSecond: result.requestsPerSecond,
      p50: result.p50,
      p99: result.p99,
      errors: result.errors,
      datastoreWritesPerRequest: entitiesAdded / result.requests,
      datastoreQueriesPerRequest: result.datastoreQueries / result.requests,
      redisCallsPerRequest: redisUsed / result.requests,
      ratio: result.requestsPerSecond / ceiling,
    });
  }
  const order = targets.map(({ name }) => name);
  rows.sort(
    (a, b) =>
      order.indexOf(a.target) - order.indexOf(b.target) ||
      a.workload.localeCompare(b.workload) * -1,
  );

  const title = `VisitMe stages under load: ${connections} connections, ${duration} s each, servers on Node ${serverNodeVersion}`;
  process.stdout.write(`\n${title}\n\n${textTable(rows)}`);
  mkdirSync(resultsDir, { recursive: true });
  const markdown = `# ${title}\n\n${markdownTable(rows)}\n_${new Date().toISOString()}, \`npm run bench${values.long ? ' -- --long' : ''}\`; vs ceiling: throughput over that of the same page served from memory, in the same run._\n`;
  writeFileSync(join(resultsDir, 'bench.md'), markdown);
  writeFileSync(join(resultsDir, 'bench.svg'), barChart(rows, title));
  writeFileSync(join(resultsDir, 'bench.json'), JSON.stringify(rows, null, 2) + '\n');
  process.stdout.write(`\nWrote ${join(resultsDir, 'bench.md')}, bench.svg and bench.json\n`);
} finally {
  redisAdmin.disconnect();
  await Promise.all(servers.map((server) => server.stop(5000)));
  await Promise.all([emulator.stop(), redis.stop()]);
}

/** A load run in its own process (so it does not share the measured servers' CPU time slice). */
function load(options: LoadOptions): LoadResult {
  const output = execFileSync(process.execPath, [LOAD, JSON.stringify(options)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(output.trim().split('\n').at(-1)!);
}

/** Every command Redis has run so far, by its own count (INFO itself left out). */
async function redisCalls(): Promise<number> {
  const stats = await redisAdmin.info('commandstats');
  let total = 0;
  for (const [, command, calls] of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (command !== 'info') total += Number(calls);
  }
  return total;
}
