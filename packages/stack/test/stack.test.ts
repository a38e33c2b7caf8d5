import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, get, isListening, listItems } from '@visitme/harness';
import { discoverModules } from '../src/stack.js';

const STACK = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Starts the stack, as `npm start` at the repository root or its script directly;
 * resolves once it printed its table.
 */
async function startStack(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  { viaNpm = false } = {},
) {
  const stack = viaNpm
    ? spawn('npm', ['start', '--', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [STACK, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  stack.stdout.on('data', (chunk: Buffer) => (output += chunk));
  stack.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (!output.includes('running; Ctrl-C stops everything.')) {
    if (stack.exitCode !== null) throw new Error(`the stack exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the stack did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { stack, output: () => output };
}

async function stopStack(stack: ChildProcess) {
  const exited = once(stack, 'exit');
  stack.kill('SIGTERM');
  return exited;
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  args: string;
}

/** Every live process (zombies are dead: they only wait for their parent to reap them). */
function processes(): ProcessInfo[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,pgid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null && !match[4]!.startsWith('Z'))
    .map((match) => ({
      pid: Number(match![1]),
      ppid: Number(match![2]),
      pgid: Number(match![3]),
      args: match![5]!,
    }));
}

/** `pid` and everything below it, and every member of their process groups. */
function processTree(pid: number): ProcessInfo[] {
  const all = processes();
  const pids = new Set([pid]);
  for (let grown = true; grown;) {
    grown = false;
    for (const { pid: child, ppid } of all) {
      if (pids.has(ppid) && !pids.has(child)) grown = pids.add(child).size > 0;
    }
  }
  // Not this test's own group, which npm (spawned without a group of its own) shares.
  const ownGroup = all.find((p) => p.pid === process.pid)?.pgid;
  const groups = new Set(all.filter((p) => pids.has(p.pid)).map((p) => p.pgid));
  groups.delete(ownGroup!);
  return all.filter((p) => pids.has(p.pid) || groups.has(p.pgid));
}

/** Which of `before` are still running `timeoutMs` after their leader exited. */
async function survivors(before: ProcessInfo[], timeoutMs = 10_000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A pid reused by something else is not a survivor: match the command line too.
    const alive = processes().filter((p) =>
      before.some((b) => b.pid === p.pid && b.args === p.args),
    );
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('modules are found in stage order, by stage number', () => {
  const names = discoverModules().map(({ name }) => name);
  assert.equal(names[0], 'mod1-baseline');
  const numbers = names.map((name) => Number(/^mod(\d+)/.exec(name)?.[1]));
  assert.deepEqual(
    numbers,
    [...numbers].sort((a, b) => a - b),
  );
});

test('npm start runs every stage on real servers; SIGTERM to it stops everything it started', async () => {
  const base = await freePort(4); // the stack uses base + 1, + 2, + 3
  const env = { ...process.env };
  delete env.DATASTORE_EMULATOR_HOST;
  delete env.REDIS_HOST;
  const { stack, output } = await startStack([`--base-port=${base}`], env, { viaNpm: true });
  const started = processTree(stack.pid!);
  let exit;
  const emulatorPort = /Datastore emulator at 127\.0\.0\.1:(\d+)/.exec(output())?.[1];
  const redisPort = /Redis at 127\.0\.0\.1:(\d+)/.exec(output())?.[1];
  try {
    assert.ok(emulatorPort && redisPort, output());
    const table = output();
    assert.match(
      table,
      new RegExp(`mod1-baseline +http://localhost:${base + 1}/ +Datastore emulator at [^+]+\n`),
    );
    assert.match(
      table,
      new RegExp(
        `mod12-memcache +http://localhost:${base + 2}/ +Datastore emulator at .+ \\+ in-process cache`,
      ),
    );
    assert.match(
      table,
      new RegExp(
        `mod13-redis +http://localhost:${base + 3}/ +Datastore emulator at .+ \\+ Redis at 127`,
      ),
    );
    // What there is to stop: the stack, the emulator (launcher and JVM), redis-server and
    // one server per stage.
    const commands = started.map((p) => p.args).join('\n');
    assert.match(commands, /cloud_datastore_emulator|CloudDatastore/, commands);
    assert.match(commands, /redis-server/, commands);
    for (const stage of ['mod1-baseline', 'mod12-memcache', 'mod13-redis']) {
      assert.match(commands, new RegExp(`${stage}/dist/src/server\\.js`), commands);
    }

    const mod1 = `http://127.0.0.1:${base + 1}/`;
    assert.equal(listItems((await get(mod1, { 'user-agent': 'first' })).body).length, 1);
    assert.equal(listItems((await get(mod1, { 'user-agent': 'first' })).body).length, 2);
    for (const port of [base + 2, base + 3]) {
      await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'returning' });
      const again = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'returning' });
      assert.equal(again.headers['server-timing'], 'cache;desc=hit', `port ${port}`);
    }

    // A second stack on the same ports stops before starting anything, and says why.
    const second = spawn(process.execPath, [STACK, `--base-port=${base}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let secondOutput = '';
    second.stdout.on('data', (chunk: Buffer) => (secondOutput += chunk));
    second.stderr.on('data', (chunk: Buffer) => (secondOutput += chunk));
    const [code] = await once(second, 'exit');
    assert.equal(code, 1, secondOutput);
    assert.match(secondOutput, new RegExp(`Ports ${base + 1} \\(mod1-baseline\\), ${base + 2}`));
    assert.match(secondOutput, /--base-port=N/);
    assert.doesNotMatch(secondOutput, /running|http:\/\/localhost|starting the Datastore/);
  } finally {
    // What a process manager does: SIGTERM to the process it started, npm, and nothing else.
    const exited = once(stack, 'exit');
    stack.kill('SIGTERM');
    exit = await exited;
  }
  const left = await survivors(started);
  for (const { pid } of left) process.kill(pid, 'SIGKILL'); // so a failure leaves nothing
  stack.stdout?.destroy();
  stack.stderr?.destroy();
  assert.deepEqual(left, [], 'every process npm start started has exited');
  assert.deepEqual(exit, [0, null], output());
  for (const port of [base + 1, base + 2, base + 3, Number(redisPort), Number(emulatorPort)]) {
    assert.equal(await isListening(port), false, `port ${port} is closed`);
  }
});

test('a --base-port that is not a usable port is refused before anything starts', async () => {
  for (const bad of ['abc', '0', '70000', '65533', '80.5', '']) {
    const stack = spawn(process.execPath, [STACK, `--base-port=${bad}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    stack.stdout.on('data', (chunk: Buffer) => (output += chunk));
    stack.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const [code] = await once(stack, 'exit');
    assert.equal(code, 1, `--base-port=${bad}: ${output}`);
    assert.match(output, /--base-port must be a whole number from 1 to 65532/, output);
    assert.doesNotMatch(output, /starting/, output);
  }
});

test('without Java or gcloud it says what to install and serves from memory', async () => {
  const base = await freePort(4); // the stack uses base + 1, + 2, + 3
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: mkdtempSync(join(tmpdir(), 'no-tools-')) };
  delete env.DATASTORE_EMULATOR_HOST;
  const { stack, output } = await startStack([`--base-port=${base}`, 'mod1-baseline'], env);
  try {
    assert.match(output(), /needs Java .* Install it with/);
    assert.match(output(), /Falling back to keeping visits IN MEMORY/);
    assert.match(output(), /mod1-baseline +http:\/\/localhost:\d+\/ +IN-MEMORY visits/);
    const page = await get(`http://127.0.0.1:${base + 1}/`, { 'user-agent': 'offline' });
    assert.equal(page.status, 200);
    assert.match(listItems(page.body)[0] ?? '', /offline$/);
  } finally {
    assert.deepEqual(await stopStack(stack), [0, null]);
  }
});

test('an unknown module name is refused with the list of modules', async () => {
  const stack = spawn(process.execPath, [STACK, 'mod99-nope'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  stack.stderr.on('data', (chunk: Buffer) => (errors += chunk));
  const [code] = await once(stack, 'exit');
  assert.equal(code, 1);
  assert.match(errors, /No such module: mod99-nope\. There are: mod1-baseline/);
});
