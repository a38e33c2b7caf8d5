// The floor under any cache hit that reads Redis: a bare ioredis GET of the cached list plus
// JSON.parse, with nothing else around it, at the bench's concurrency. Run once a round on each
// runtime (node floor.js --port=P --redis-pid=N --seconds=S --concurrency=C), it warms up, then
// loops for S seconds and prints one JSON line: the GETs, its own CPU and redis-server's.
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { processCpu } from './proc.js';
import type { FloorRun } from './report.js';

// The key the floor reads: the list Module 13 caches, which the bench has just made the
// returning visitor's ten visits, the value Module 13's cache hits read.
const FLOOR_KEY = 'visits';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    'redis-pid': { type: 'string' },
    seconds: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '10' },
  },
});
const redisPid = Number(values['redis-pid']);
const concurrency = Number(values.concurrency);
const redis = new Redis({ host: values.host, port: Number(values.port) });
try {
  if ((await redis.get(FLOOR_KEY)) === null) throw new Error(`Redis holds no "${FLOOR_KEY}"`);
  // Warmed up (the JIT, the connection) for as long as it is then measured.
  const warmUntil = performance.now() + Number(values.seconds) * 1000;
  await loop(() => performance.now() < warmUntil);
  const cpuBefore = process.cpuUsage();
  const redisBefore = await processCpu([redisPid]);
  const startedAt = performance.now();
  const endAt = startedAt + Number(values.seconds) * 1000;
  const gets = await loop(() => performance.now() < endAt);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisMs = (await processCpu([redisPid])) - redisBefore;
  const result: Omit<FloorRun, 'runtime'> = {
    gets,
    seconds,
    clientCpuPerGet: (cpu.user + cpu.system) / gets,
    redisCpuPerGet: (redisMs * 1000) / gets,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  redis.disconnect();
}

/** `concurrency` GETs in flight at all times while `more()` says so; how many were made. */
async function loop(more: () => boolean): Promise<number> {
  let gets = 0;
  const worker = async () => {
    while (more()) {
      JSON.parse((await redis.get(FLOOR_KEY))!);
      gets += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return gets;
}
