// CPU time, in milliseconds of user + system: of processes and their trees (pidtree and
// pidusage), of this process's children that have exited (a finished `wrk`), and of the whole
// machine. The last two are read from /proc (Linux): no library reports a reaped child's time
// or the machine's busy time with the steal that neighbours on a VM take. And which core runs
// what (`taskset`, Linux's util-linux).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pidtree from 'pidtree';
import pidusage from 'pidusage';

/** Clock ticks per second (USER_HZ), the unit of /proc's CPU figures. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;

/** CPU time each live process in `pids` has used (the ones gone count 0). */
export async function processCpu(pids: Iterable<number>): Promise<number> {
  let total = 0;
  for (const pid of pids)
    total += await pidusage(pid).then(
      ({ ctime }) => ctime,
      () => 0,
    );
  return total;
}

/** Every live process descended from `root` (servers, the emulator's JVM, redis-server). */
export function descendants(root = process.pid): Promise<number[]> {
  return pidtree(root);
}

/** This process's CPU time, and that of its children already exited (a finished `wrk`). */
export function selfCpu(): { own: number; exitedChildren: number } {
  const { user, system } = process.cpuUsage();
  // /proc/self/stat: the command (field 2) is in parentheses; cutime and cstime are 16 and 17.
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    own: (user + system) / 1000,
    exitedChildren: ms(Number(fields[13]) + Number(fields[14])),
  };
}

/** Busy and total CPU time of the whole machine, all cores (steal counts as busy: a neighbour's). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy: ms(busy), total: ms(busy + idle! + iowait!) };
}

/**
 * Where the bench runs what it measures: every server, redis-server and the Redis floor on one
 * core, wrk on another. On a VM one core can run at half the speed of the other for seconds
 * at a time (the host's other tenants, which no /proc figure shows), and a process the
 * scheduler left on the slow core looks twice as dear as one on the fast core: on one core,
 * a stage and the ceiling run beside it meet the same core at the same speed.
 */
export interface Cores {
  servers: number;
  generator: number;
}

/** The last two CPUs this process may use, when Linux says which and `taskset` is here. */
export function chooseCores(): Cores | undefined {
  let allowed: number[];
  try {
    const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(
      readFileSync('/proc/self/status', 'utf8'),
    )?.[1];
    allowed = (list ?? '').split(',').flatMap((range) => {
      const [from, to = from] = range.split('-').map(Number) as [number, number?];
      return Array.from({ length: to! - from + 1 }, (_, i) => from + i);
    });
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return undefined; // not Linux, or no util-linux
  }
  if (allowed.length < 2 || !allowed.every(Number.isInteger)) return undefined;
  return { servers: allowed.at(-1)!, generator: allowed.at(-2)! };
}

/** Keeps a running process, every thread of it, on `cpu`. */
export function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', String(cpu), String(pid)], {
    stdio: 'ignore',
  });
}

/** `command args` to start on `cpu` (or anywhere, without one). */
export function onCpu(
  cpu: number | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  return cpu === undefined
    ? [command, args]
    : ['taskset', ['--cpu-list', String(cpu), command, ...args]];
}
