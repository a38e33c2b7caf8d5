// What a command started, to check that stopping it stopped all of it: the processes below it
// (pidtree), with their command lines, and which of them still run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
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

export interface Command {
  child: ChildProcess;
  /** All it has printed so far, both streams. */
  output(): string;
  /** Resolves once it has printed `text`; rejects, with its output, if it exits first or
   * has not said it within `timeoutMs` (a minute). */
  until(text: string, timeoutMs?: number): Promise<void>;
  /**
   * SIGTERM to the command alone, as a process manager stops it; resolves once it has exited,
   * with how, and which of the processes below it then still ran (killed, so none is left).
   */
  stop(): Promise<{ exit: [number | null, NodeJS.Signals | null]; left: ProcessInfo[] }>;
}

/** A long-running command a learner types (`npm start`, say), read as it prints. */
export function startCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Command {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  void exited.catch(() => {}); // a command that cannot start: stop() says so
  const closed = once(child, 'close'); // exited, and all it printed read
  let hasClosed = false;
  const markClosed = () => (hasClosed = true);
  void closed.then(markClosed, markClosed);
  return {
    child,
    output: () => output,
    until(text, timeoutMs = 60_000) {
      const what = `${command} ${args.join(' ')}`;
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.stderr!.off('data', check);
          child.off('close', exited);
          if (error) reject(error);
          else resolve();
        };
        // Called after the listener that adds the chunk to the output, registered first.
        const check = () => {
          if (output.includes(text)) finish();
        };
        const exited = () =>
          finish(new Error(`${what} exited before saying "${text}":\n${output}`));
        const timer = setTimeout(
          () => finish(new Error(`${what} did not say "${text}" in ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        child.on('close', exited);
        if (output.includes(text)) finish();
        else if (hasClosed) exited();
      });
    },
    async stop() {
      const started = child.pid === undefined ? [] : await processTree(child.pid);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const exit = (await exited) as [number | null, NodeJS.Signals | null];
      const left = await survivors(started);
      for (const { pid } of left) process.kill(pid, 'SIGKILL');
      await closed; // what it printed, all read once nothing holds its pipes any more
      return { exit, left };
    },
  };
}
