// One load run, in its own process so it does not share an event loop with what it measures:
//   node load.js '{"url": …, "workload": "returning" | "new", "connections": 10, "duration": 5}'
// prints a JSON summary, tallying what each response's Server-Timing says it cost.
import autocannon from 'autocannon';

export type Workload = 'returning' | 'new';

export interface LoadOptions {
  url: string;
  workload: Workload;
  connections: number;
  /** Seconds. */
  duration: number;
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** Pages rendered from a list fresh from Datastore: one query (and one write) each. */
  datastoreQueries: number;
  cacheHits: number;
}

const options: LoadOptions = JSON.parse(process.argv[2] ?? '{}');
let visitor = 0;
const tally = { datastoreQueries: 0, cacheHits: 0 };

const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.duration,
  requests: [
    {
      method: 'GET',
      path: '/',
      headers: { 'user-agent': 'bench returning visitor' },
      setupRequest(request) {
        if (options.workload === 'new') {
          // A different User-Agent on every request: a new visitor, so a cache miss.
          request.headers = {
            ...request.headers,
            'user-agent': `bench visitor ${process.pid}-${visitor++}`,
          };
        }
        return request;
      },
      onResponse(_status, _body, _context, headers) {
        // Raw headers, as the server cased them.
        const entry = Object.entries(headers ?? {}).find(
          ([name]) => name.toLowerCase() === 'server-timing',
        );
        const timing = String(entry?.[1] ?? '');
        if (timing === 'cache;desc=hit') tally.cacheHits += 1;
        if (timing.startsWith('datastore;')) tally.datastoreQueries += 1;
      },
    },
  ],
});

const summary: LoadResult = {
  requests: result.requests.total,
  requestsPerSecond: result.requests.total / options.duration,
  p50: result.latency.p50,
  p99: result.latency.p99,
  max: result.latency.max,
  errors: result.errors + result.timeouts + result.non2xx,
  ...tally,
};
process.stdout.write(JSON.stringify(summary) + '\n');
