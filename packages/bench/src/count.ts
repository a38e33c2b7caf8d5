// The counting phase: a fixed number of requests, every one awaited, so what the emulator and
// Redis count between before and after was done by exactly these requests, however loaded
// the machine is (a timed run leaves requests in flight when it stops).
import { Agent } from 'node:http';
import { get } from '@visitme/harness';
import { RETURNING_VISITOR, newVisitor, type Workload } from './wrk.js';

export interface Tally {
  requests: number;
  /** Responses other than 200, and failed requests. */
  errors: number;
  /** Pages whose list came fresh from Datastore (`Server-Timing: datastore;…desc="queried"`). */
  datastoreQueries: number;
  /** Pages whose list a cache handed back (`Server-Timing: cache;desc=hit`). */
  cacheHits: number;
}

export async function countRequests(options: {
  url: string;
  workload: Workload;
  requests: number;
  connections: number;
  runId: string;
}): Promise<Tally> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const tally: Tally = { requests: 0, errors: 0, datastoreQueries: 0, cacheHits: 0 };
  let issued = 0;
  const worker = async () => {
    while (issued < options.requests) {
      const userAgent =
        options.workload === 'returning' ? RETURNING_VISITOR : newVisitor(options.runId, issued);
      issued += 1;
      const { status, timing } = await get(`${options.url}/`, { 'user-agent': userAgent }, agent)
        .then((response) => ({
          ...response,
          timing: String(response.headers['server-timing'] ?? ''),
        }))
        .catch(() => ({ status: 0, timing: '' }));
      tally.requests += 1;
      if (status !== 200) tally.errors += 1;
      const names = timing.split(',').map((entry) => entry.trim());
      if (names.some((entry) => /^datastore;.*desc="?queried"?/.test(entry))) {
        tally.datastoreQueries += 1;
      }
      if (names.some((entry) => /^cache;.*desc="?hit"?/.test(entry))) tally.cacheHits += 1;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  agent.destroy();
  return tally;
}
