import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import getPort from 'get-port';

/** A server process started in its own process group, so that stopping it stops all it spawned. */
export interface GroupProcess {
  readonly child: ChildProcess;
  /** What it printed most recently, for error messages. */
  output(): string;
  /** SIGKILL to the whole group; resolves when the leader has exited. */
  kill(): Promise<void>;
  /** SIGTERM to the whole group, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

const running = new Set<ChildProcess>();

// Whatever happens to this process (a failed test, an uncaught error, Ctrl-C), the
// groups it started must not outlive it.
function killAllSync() {
  for (const child of running) signalGroup(child, 'SIGKILL');
  running.clear();
}
process.on('exit', killAllSync);
function onSignal(signal: NodeJS.Signals) {
  if (process.listenerCount(signal) > 1) return; // someone else decides how to exit
  killAllSync();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal); // again, now with the default action
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

// Even SIGKILL, which no handler sees: a shell in its own group holds the read end of a
// pipe from this process and the list of live groups. When this process dies, however it
// dies, the pipe closes and the shell kills every group still on its list.
const REAPER = `
  groups=' '
  while read -r line; do
    case $line in
      -*) groups=$(printf '%s' "$groups" | sed "s/ \${line#-} / /") ;;
      *) groups="$groups$line " ;;
    esac
  done
  for group in $groups; do kill -KILL "-$group" 2>/dev/null; done
`;
let reaper: ChildProcess | undefined;
function tellReaper(line: string) {
  if (!reaper) {
    // By its full path: PATH may be anything, even empty (the stack's no-tools test).
    reaper = spawn('/bin/sh', ['-c', REAPER], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Without it, the exit and signal handlers above still kill the groups.
    reaper.on('error', () => {});
    reaper.stdin!.on('error', () => {});
    reaper.unref(); // it must not keep this process alive
  }
  reaper.stdin!.write(`${line}\n`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with everything it prints, as it prints it, and on which stream. */
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

export function spawnGroup(
  command: string,
  args: string[],
  { env = process.env, cwd, onOutput }: SpawnOptions = {},
): GroupProcess {
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    ...(cwd && { cwd }),
  });
  let recent = '';
  const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    recent = (recent + chunk.toString()).slice(-8000);
    onOutput?.(chunk, stream);
  };
  child.stdout?.on('data', keep('stdout'));
  child.stderr?.on('data', keep('stderr'));
  running.add(child);
  if (child.pid !== undefined) tellReaper(String(child.pid));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  void exited.then(() => {
    // The group goes with its leader: the emulator's JVM outlives its launcher otherwise.
    signalGroup(child, 'SIGKILL');
    running.delete(child);
    if (child.pid !== undefined) tellReaper(`-${child.pid}`);
  });
  return {
    child,
    output: () => recent,
    async kill() {
      signalGroup(child, 'SIGKILL');
      await exited;
    },
    async stop(graceMs) {
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Whether `port` is free on every address: nothing listens on it anywhere. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // No host: binds every address, so it fails if anything listens on any of them.
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

// The kernel gives outgoing connections (and `listen(0)`) a local port from its ephemeral
// range, 32768 and up on Linux unless changed, so a port picked there can be taken before the
// server meant for it binds. Ports below it are only ever taken by an explicit bind.
const LOW = 20_000;
export const EPHEMERAL_PORTS_START = 32_768;

// Ports handed out by this process, so two servers started together never get the same one.
const handedOut = new Set<number>();

/**
 * The first of `count` consecutive ports nobody listens on (get-port checks the first, and
 * never hands it out twice within a while), chosen at random between 20000 and the ephemeral
 * range: clear of well-known services, and of the ports outgoing connections take.
 */
export async function freePort(count = 1): Promise<number> {
  const highest = EPHEMERAL_PORTS_START - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = await getPort({ port: randomPorts(LOW, highest), exclude: handedOut });
    if (first < LOW || first > highest) continue; // none of ours was free: get-port chose one
    const rest = Array.from({ length: count - 1 }, (_, index) => first + index + 1);
    let free = true;
    for (const port of rest) free &&= !handedOut.has(port) && (await canListen(port));
    if (!free) continue;
    for (const port of [first, ...rest]) handedOut.add(port);
    return first;
  }
  throw new Error(`No ${count} free consecutive ports between ${LOW} and ${EPHEMERAL_PORTS_START}`);
}

/** Twenty ports from `low` to `high` at random: where two test processes rarely meet. */
function randomPorts(low: number, high: number): number[] {
  return Array.from({ length: 20 }, () => low + Math.floor(Math.random() * (high - low)));
}

/** Whether something accepts TCP connections at host:port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a VisitMe server (a stage's server entry, say, run as `node <entry>` or `npm start`)
 * in its own process group, and resolves once it has said it listens on `port` (its JSON log
 * line `Listening on port N`): the moment a person could use it. Fails with what it printed if
 * it exits first, or after `timeoutMs`.
 */
export async function startServer(
  name: string,
  command: string,
  args: string[],
  port: number,
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<GroupProcess> {
  const listening = `"message":"Listening on port ${port}"`;
  let said = '';
  let heard!: () => void;
  const heardIt = new Promise<void>((resolve) => (heard = resolve));
  const server = spawnGroup(command, args, {
    ...options,
    onOutput: (chunk, stream) => {
      said += chunk.toString();
      if (said.includes(listening)) heard();
      said = said.slice(-listening.length); // enough to find it split between two chunks
      options.onOutput?.(chunk, stream);
    },
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    heardIt.then(() => 'listening' as const),
    new Promise<'exited'>((resolve) => server.child.once('exit', () => resolve('exited'))),
    new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'listening') return server;
  await server.kill();
  const why =
    outcome === 'exited' ? 'exited before it listened' : `did not listen within ${timeoutMs} ms`;
  throw new Error(`${name} ${why}:\n${server.output()}`);
}

/** Polls `check` until it is true, the process exits, or time runs out. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  process: GroupProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      throw new Error(`${what} exited before it was ready:\n${process.output()}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await process.kill();
  throw new Error(`${what} was not ready after ${timeoutMs} ms:\n${process.output()}`);
}

/** Waits until `process` accepts connections on `port`; fails with its output if it dies or stalls. */
export function untilListening(
  what: string,
  port: number,
  process: GroupProcess,
  timeoutMs = 30_000,
): Promise<void> {
  return waitUntil(what, () => isListening(port), process, timeoutMs);
}

/** A server on a fixed port that tests can stop, start again, freeze and thaw. */
export interface Restartable {
  /** Kills its group; resolves once its port is closed. */
  stop(): Promise<void>;
  /** Starts it again, on the same port, after `stop()`. */
  restart(): Promise<void>;
}

export interface RestartableOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  /** True once it serves; `isListening(port)` when that is enough. */
  ready?: () => Promise<boolean>;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** Starts a server in its own process group and waits until it is ready. */
export async function startRestartable(options: RestartableOptions): Promise<Restartable> {
  const { name, command, args, port, timeoutMs } = options;
  const ready = options.ready ?? (() => isListening(port));
  let current: GroupProcess | undefined;
  const launch = async () => {
    current = spawnGroup(command, args, { env: options.env ?? process.env });
    await waitUntil(name, ready, current, timeoutMs);
  };
  const stop = async () => {
    await current?.kill();
    current = undefined;
    // A child of the group (the emulator's JVM) may close its socket a moment later.
    const deadline = Date.now() + 5000;
    while ((await isListening(port)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await launch();
  return {
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
