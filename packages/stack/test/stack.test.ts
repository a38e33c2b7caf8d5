import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, get, isListening, listItems, processTree, startCommand } from '@visitme/harness';
import { stages } from '@visitme/stages';

const STACK = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The stack, as `npm start` at the repository root or its script directly, once it printed its table. */
async function startStack(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  { viaNpm = false } = {},
) {
  const stack = viaNpm
    ? startCommand('npm', ['start', '--', ...args], { cwd: ROOT, env })
    : startCommand(process.execPath, [STACK, ...args], { env });
  await stack.until('running; Ctrl-C stops everything.');
  return stack;
}

/** This environment, without a Datastore emulator or Redis of the user's: the stack starts its own. */
function ownServices(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATASTORE_EMULATOR_HOST', 'REDIS_HOST', 'REDIS_PORT', 'VISITME_STORE']) {
    delete env[name];
  }
  return env;
}

test('npm start runs every stage on real servers; SIGTERM to it stops everything it started', async () => {
  const all = stages();
  const base = await freePort(100); // the stack's ports are base + 1 to base + 99
  const stack = await startStack([`--base-port=${base}`], ownServices(), { viaNpm: true });
  const output = stack.output;
  const started = await processTree(stack.child.pid!);
  let stopped;
  // The emulator and Redis follow --base-port too, so a learner knows where to find them.
  const emulatorPort = base + 98;
  const redisPort = base + 99;
  try {
    const table = output();
    assert.match(table, new RegExp(`Datastore emulator at 127\\.0\\.0\\.1:${emulatorPort}`));
    assert.match(table, new RegExp(`Redis at 127\\.0\\.0\\.1:${redisPort}`));
    // Nothing but the stack's own lines and its servers': no build tool's banner.
    assert.doesNotMatch(table, /turbo|Packages in scope|Remote caching|FULL TURBO|Tasks:/);
    // The table comes once every server has said it listens, a row for each stage, in order.
    const tableAt = table.indexOf('\nModule ');
    const commands = started.map((p) => p.command).join('\n');
    for (const [index, stage] of all.entries()) {
      const port = base + index + 1;
      const said = table.indexOf(`"message":"Listening on port ${port}"`);
      assert.ok(said >= 0 && said < tableAt, `port ${port} listened before the table:\n${table}`);
      const cache = { redis: ' \\+ Redis at 127[^ ]+', 'node-cache': ' \\+ in-process cache' };
      assert.match(
        table.slice(tableAt),
        new RegExp(
          `\n${stage.name} +http://localhost:${port}/ +1 +Datastore emulator at [^ +]+${stage.cache ? cache[stage.cache] : ''}`,
        ),
      );
      // What there is to stop: one server per stage, besides the emulator and redis-server.
      assert.match(commands, new RegExp(`${stage.name}/dist/src/server\\.js`), commands);
    }
    assert.match(commands, /cloud_datastore_emulator|CloudDatastore/, commands);
    assert.match(commands, /redis-server/, commands);

    for (const [index, stage] of all.entries()) {
      const url = `http://127.0.0.1:${base + index + 1}/`;
      const first = await get(url, { 'user-agent': 'returning' });
      const again = await get(url, { 'user-agent': 'returning' });
      if (stage.cache) {
        assert.equal(again.headers['server-timing'], 'cache;desc=hit', stage.name);
      } else {
        const [before, after] = [first, again].map(({ body }) => listItems(body).length);
        assert.equal(after, Math.min(10, before! + 1), `${stage.name} stores every visit`);
      }
    }

    // A second stack on the same ports stops before starting anything, and says why.
    const second = spawn(process.execPath, [STACK, `--base-port=${base}`], {
      env: ownServices(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let secondOutput = '';
    second.stdout.on('data', (chunk: Buffer) => (secondOutput += chunk));
    second.stderr.on('data', (chunk: Buffer) => (secondOutput += chunk));
    const [code] = await once(second, 'exit');
    assert.equal(code, 1, secondOutput);
    assert.match(secondOutput, new RegExp(`Ports ${base + 1} \\(${all[0]!.name}\\), ${base + 2}`));
    assert.match(secondOutput, /--base-port=N/);
    assert.doesNotMatch(secondOutput, /running|http:\/\/localhost|starting the Datastore/);
  } finally {
    // What a process manager does: SIGTERM to the process it started, npm, and nothing else.
    stopped = await stack.stop();
  }
  assert.deepEqual(stopped.left, [], 'every process npm start started has exited');
  assert.deepEqual(stopped.exit, [0, null], output());
  assert.match(
    output(),
    new RegExp(
      `\\[stack\\] stopped everything it started: ${all.length} servers, the Datastore emulator and redis-server\\.\n$`,
    ),
  );
  for (const port of [...all.map((_, index) => base + index + 1), redisPort, emulatorPort]) {
    assert.equal(await isListening(port), false, `port ${port} is closed`);
  }
});

test('SIGTERM to npm start while the emulator starts stops it too, and says so', async () => {
  const base = await freePort(100);
  const stack = startCommand('npm', ['start', '--', `--base-port=${base}`, 'mod1-baseline'], {
    cwd: ROOT,
    env: ownServices(),
  });
  await stack.until('starting the Datastore emulator');
  const { exit, left } = await stack.stop(); // SIGTERM to npm, and nothing else
  assert.deepEqual(left, [], 'every process npm start started has exited');
  assert.deepEqual(exit, [0, null], stack.output());
  assert.match(stack.output(), /\[stack\] stopped while starting: nothing is left running\.\n$/);
  assert.doesNotMatch(stack.output(), /running; Ctrl-C/);
});

test('a --base-port or --instances that cannot be used is refused before anything starts', async () => {
  const refusals: Array<[string, RegExp]> = [
    ...['abc', '0', '70000', '80.5', ''].map((bad): [string, RegExp] => [
      `--base-port=${bad}`,
      new RegExp(
        `^\\[stack\\] --base-port must be a decimal port number from 1 to 65535; it is "${bad.replace('.', '\\.')}"\\n$`,
      ),
    ]),
    [
      '--base-port=65533',
      /^\[stack\] --base-port must leave room for 100 ports above it \(at most 65436\); it is 65533\n$/,
    ],
    ...['0', '10', 'two'].map((bad): [string, RegExp] => [
      `--instances=${bad}`,
      new RegExp(`^\\[stack\\] --instances must be a whole number from 1 to 9; it is "${bad}"\\n$`),
    ]),
  ];
  for (const [argument, said] of refusals) {
    const stack = spawn(process.execPath, [STACK, argument], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    stack.stdout.on('data', (chunk: Buffer) => (output += chunk));
    stack.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const [code] = await once(stack, 'exit');
    assert.equal(code, 1, `${argument}: ${output}`);
    assert.match(output, said, `${argument}: one line that says what is wrong`);
  }
});

test('without Java or gcloud it says what to install and serves from memory', async () => {
  const base = await freePort(100);
  const env = { ...ownServices(), PATH: mkdtempSync(join(tmpdir(), 'no-tools-')) };
  const first = stages()[0]!.name;
  const stack = await startStack([`--base-port=${base}`, first], env);
  const output = stack.output;
  try {
    assert.match(output(), /needs Java .* Install it with/);
    assert.match(output(), /Falling back to keeping visits IN MEMORY/);
    assert.match(output(), new RegExp(`${first} +http://localhost:\\d+/ +1 +IN-MEMORY visits`));
    const page = await get(`http://127.0.0.1:${base + 1}/`, { 'user-agent': 'offline' });
    assert.equal(page.status, 200);
    assert.match(listItems(page.body)[0] ?? '', /offline$/);
  } finally {
    assert.deepEqual((await stack.stop()).exit, [0, null]);
  }
});

test('an unknown stage is refused with the list of stages', async () => {
  const stack = spawn(process.execPath, [STACK, 'mod99-nope'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  stack.stderr.on('data', (chunk: Buffer) => (errors += chunk));
  const [code] = await once(stack, 'exit');
  assert.equal(code, 1);
  assert.match(errors, new RegExp(`No stage "mod99-nope"\\. There are: ${stages()[0]!.name}, `));
});
