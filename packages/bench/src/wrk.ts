// One timed load run with wrk (Debian's `wrk`, in C: a fraction of autocannon's CPU per
// request, measured in the README), on one thread, its summary as JSON from a Lua script.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCpu } from './proc.js';

export type Workload = 'returning' | 'new';

export interface LoadOptions {
  url: string;
  workload: Workload;
  connections: number;
  /** Whole seconds (all wrk takes). */
  seconds: number;
  /** Makes this run's new visitors unlike any other run's. */
  runId: string;
  /** The core to run it on (see `chooseCores()`), or any. */
  cpu?: number;
}

export interface LoadResult {
  /** Responses received: requests still in flight when the time is up are not among them. */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** Connection, read and write errors, timeouts and non-2xx/3xx responses. */
  errors: number;
}

export const RETURNING_VISITOR = 'bench returning visitor';

/** The User-Agent of the bench's `n`th new visitor in run `runId` (without `n`, the prefix). */
export function newVisitor(runId: string, n: number | '' = ''): string {
  return `bench visitor ${runId}-${n}`;
}

const SUMMARY = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"durationUs":%d,"errors":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;
// A different User-Agent on every request: a new visitor, so a cache miss. Without a request()
// function wrk sends one request built once, the cheapest it can (the returning visitor).
const NEW_VISITOR = `
local prefix = ''
local n = 0
function init(args) prefix = args[1] end
function request()
  n = n + 1
  return wrk.format(nil, nil, { ['User-Agent'] = prefix .. n })
end
`;

let scripts: Record<Workload, string> | undefined;

export function findWrk(): string {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // It prints its version and exits 1; only a missing binary is a problem.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'The benchmark drives the servers with `wrk`, which is not installed: ' +
          '`sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS).',
      );
    }
  }
  return 'wrk';
}

export function wrk(options: LoadOptions): LoadResult {
  if (!scripts) {
    const dir = mkdtempSync(join(tmpdir(), 'visitme-bench-'));
    scripts = { returning: join(dir, 'returning.lua'), new: join(dir, 'new.lua') };
    writeFileSync(scripts.returning, SUMMARY);
    writeFileSync(scripts.new, NEW_VISITOR + SUMMARY);
  }
  const args = [
    '--threads=1',
    `--connections=${options.connections}`,
    `--duration=${options.seconds}s`,
    '--timeout=10s',
    `--script=${scripts[options.workload]}`,
    ...(options.workload === 'returning' ? ['--header', `User-Agent: ${RETURNING_VISITOR}`] : []),
    `${options.url}/`,
    ...(options.workload === 'new' ? ['--', newVisitor(options.runId)] : []),
  ];
  const output = execFileSync(...onCpu(options.cpu, 'wrk', args), { encoding: 'utf8' });
  const json = output
    .trim()
    .split('\n')
    .findLast((line) => line.startsWith('{'));
  if (!json) throw new Error(`wrk printed no summary:\n${output}`);
  const raw = JSON.parse(json) as Record<string, number>;
  const seconds = raw.durationUs! / 1e6;
  return {
    requests: raw.requests!,
    seconds,
    requestsPerSecond: raw.requests! / seconds,
    p50: raw.p50Us! / 1000,
    p99: raw.p99Us! / 1000,
    max: raw.maxUs! / 1000,
    errors: raw.errors!,
  };
}
