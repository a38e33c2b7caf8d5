// Which load generator disturbs the measurement least: autocannon (Node.js) or wrk (C).
//   npm run generators -w @visitme/bench [-- --rounds=N] [-- --seconds=N]
// Drives the ceiling server (the cheapest page, so the generator's share is at its largest)
// with each in turn, interleaved, and reports each one's own CPU time per request (from
// the exited child's user + system time) beside the throughput the server reached.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startServer } from '@visitme/harness';
import { processCpu, selfCpu } from './proc.js';
import { spread } from './stats.js';
import { RETURNING_VISITOR, findWrk, wrk } from './wrk.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string' }, seconds: { type: 'string' } },
});
const rounds = Number(values.rounds ?? 5);
const seconds = Number(values.seconds ?? 3);
const connections = 10;
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));

findWrk();
const port = await freePort();
const server = await startServer('ceiling', process.execPath, [CEILING], port, {
  env: { ...process.env, PORT: String(port), NODE_ENV: 'production' },
});
const url = `http://127.0.0.1:${port}`;
try {
  const generators = {
    autocannon: () => {
      const out = execFileSync(
        process.execPath,
        [AUTOCANNON, '-j', '-c', String(connections), '-d', String(seconds)].concat([
          '-H',
          `user-agent=${RETURNING_VISITOR}`,
          `${url}/`,
        ]),
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      return (JSON.parse(out) as { requests: { total: number } }).requests.total;
    },
    wrk: () =>
      wrk({ url, workload: 'returning', connections, seconds, runId: 'generators' }).requests,
  };
  const figures = new Map<string, Array<{ generator: number; server: number; rate: number }>>();
  for (const run of Object.values(generators)) run(); // warm the server up
  for (let round = 0; round < rounds; round++) {
    const order = Object.entries(generators);
    if (round % 2) order.reverse();
    for (const [name, run] of order) {
      const [gen0, srv0] = [selfCpu().exitedChildren, await processCpu([server.child.pid!])];
      const requests = run();
      const [gen1, srv1] = [selfCpu().exitedChildren, await processCpu([server.child.pid!])];
      const us = (ms: number) => (ms * 1000) / requests;
      figures.set(name, [
        ...(figures.get(name) ?? []),
        { generator: us(gen1 - gen0), server: us(srv1 - srv0), rate: requests / seconds },
      ]);
    }
  }
  const rows = [...figures].map(([name, list]) => {
    const [g, s, r] = (['generator', 'server', 'rate'] as const).map((key) =>
      spread(list.map((f) => f[key])),
    );
    const range = (x: typeof g) =>
      `${x!.median.toFixed(0)} (${x!.min.toFixed(0)}–${x!.max.toFixed(0)})`;
    return `| ${name} | ${range(g)} | ${range(s)} | ${range(r)} |`;
  });
  process.stdout.write(
    [
      `Ceiling server on Node ${process.version}, ${connections} connections, ${rounds} interleaved rounds of ${seconds} s, medians (min–max):`,
      '',
      '| Generator | its CPU µs/request | server CPU µs/request | server requests/s |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
      '',
    ].join('\n'),
  );
} finally {
  await server.stop(5000);
}
