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

/** Starts `npm start`'s script; resolves once it printed its table. */
async function startStack(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const stack = spawn(process.execPath, [STACK, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/** How many processes have `text` in their command line. */
function processesOn(text: string): number {
  const lines = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(text) && !line.startsWith('ps ')).length;
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

test('npm start runs every stage on real servers; SIGTERM stops everything it started', async () => {
  const base = await freePort(4); // the stack uses base + 1, + 2, + 3
  const env = { ...process.env };
  delete env.DATASTORE_EMULATOR_HOST;
  delete env.REDIS_HOST;
  const { stack, output } = await startStack([`--base-port=${base}`], env);
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

    const mod1 = `http://127.0.0.1:${base + 1}/`;
    assert.equal(listItems((await get(mod1, { 'user-agent': 'first' })).body).length, 1);
    assert.equal(listItems((await get(mod1, { 'user-agent': 'first' })).body).length, 2);
    for (const port of [base + 2, base + 3]) {
      await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'returning' });
      const again = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'returning' });
      assert.equal(again.headers['server-timing'], 'cache;desc=hit', `port ${port}`);
    }
  } finally {
    assert.deepEqual(await stopStack(stack), [0, null]);
  }
  for (const port of [base + 1, base + 2, base + 3, Number(redisPort)]) {
    assert.equal(await isListening(port), false, `port ${port} is closed`);
  }
  assert.equal(processesOn(`--port=${emulatorPort}`), 0, 'no emulator left behind');
  assert.equal(processesOn(`:${redisPort}`), 0, 'no redis-server left behind');
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
