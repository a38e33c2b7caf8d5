// What a command started, to check that stopping it stopped all of it: the processes below it
// (pidtree), with their command lines, and which of them still run.
import { execFileSync } from 'node:child_process';
import pidtree from 'pidtree';

export interface ProcessInfo {
  pid: number;
  command: string;
}

/** `pid` and every process below it, with their command lines. */
export async function processTree(pid: number): Promise<ProcessInfo[]> {
  return running(await pidtree(pid, { root: true }));
}

/**
 * Which of `processes` still run `timeoutMs` after being asked to stop (polled until none
 * does): the same pid with the same command line, and not a zombie, which has exited and only
 * waits to be reaped.
 */
export async function survivors(
  processes: ProcessInfo[],
  timeoutMs = 10_000,
): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = running(processes.map(({ pid }) => pid)).filter((now) =>
      processes.some((then) => then.pid === now.pid && then.command === now.command),
    );
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function running(pids: number[]): ProcessInfo[] {
  if (pids.length === 0) return [];
  let listing: string;
  try {
    listing = execFileSync('ps', ['-o', 'pid=,stat=,args=', '-p', pids.join(',')], {
      encoding: 'utf8',
    });
  } catch {
    return []; // ps exits 1 when none of them is left
  }
  return listing
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null && !match[2]!.startsWith('Z'))
    .map((match) => ({ pid: Number(match![1]), command: match![3]! }));
}
