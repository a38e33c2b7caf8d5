// CPU time from /proc (Linux): what a process and the whole machine spent, in clock ticks.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second (USER_HZ), the unit of every /proc CPU figure. */
export const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime: user and system time of the process itself. */
  cpu: number;
  /** cutime + cstime: of its children that have exited and been waited for. */
  childrenCpu: number;
}

function stat(pid: number | 'self'): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    ppid: field(4),
    cpu: field(14) + field(15),
    childrenCpu: field(16) + field(17),
  };
}

/** User + system ticks of each live process in `pids` (the ones gone count 0). */
export function processCpu(pids: Iterable<number>): number {
  let total = 0;
  for (const pid of pids) total += stat(pid)?.cpu ?? 0;
  return total;
}

/** This process's ticks, and those of its children already exited (a finished `wrk`). */
export function selfCpu(): { own: number; exitedChildren: number } {
  const self = stat('self')!;
  return { own: self.cpu, exitedChildren: self.childrenCpu };
}

/** Every live process descended from `root` (servers, the emulator's JVM, redis-server). */
export function descendants(root = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (!s) continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  }
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(root);
  return found;
}

/** Busy and total ticks of the whole machine, all cores (steal counts as busy: a neighbour's). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait! };
}
