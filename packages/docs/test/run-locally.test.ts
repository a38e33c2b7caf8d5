// The stage READMEs' commands for running a stage on your machine, run as written on their
// default ports: "Run locally" (`npm start -- STAGE`, and the server alone against an emulator
// you started) and "See it" (`npm start -- --instances=2 …`, then the commands a learner types
// in another terminal, whose output must show what the README says it shows).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { get, listItems, startCommand, startDatastoreEmulator } from '@visitme/harness';
import { stages } from '@visitme/stages';
import { ROOT } from '../src/code-blocks.js';
import { shellBlocks } from '../src/gcloud-commands.js';

/** The section under a `## ` heading: its text, and its shell blocks trimmed. */
function section(readme: string, heading: RegExp) {
  const from = readme.search(heading);
  if (from < 0) return undefined;
  const rest = readme.slice(from + 1);
  const end = rest.search(/^## /m);
  const text = end >= 0 ? rest.slice(0, end) : rest;
  return { text, blocks: shellBlocks(text).map((block) => block.text.trim()) };
}

/** The stage's "See it" section: the command that starts it, then what the learner types. */
function seeIt(readme: string) {
  const found = section(readme, /^## See it\b.*$/m);
  if (!found) return undefined;
  const [start, commands, ...more] = found.blocks;
  assert.equal(more.length, 0, 'a "See it" section shows two blocks: npm start, then commands');
  return { start: start!, commands: commands! };
}

/** Without a Datastore emulator or Redis of the user's: npm start starts its own. */
function ownServices(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATASTORE_EMULATOR_HOST', 'REDIS_HOST', 'REDIS_PORT', 'VISITME_STORE']) {
    delete env[name];
  }
  return env;
}

/** Each refresh the loop printed: the instance that served it and the list it showed. */
function refreshes(output: string) {
  return output
    .split(/\n\n/)
    .map((part) => part.trim())
    .filter((part) => /^x-served-by: /im.test(part))
    .map((part) => {
      const lines = part.split('\n');
      const by = lines.find((line) => /^x-served-by: /i.test(line))!.replace(/^\S+ /, '');
      const list = lines.filter((line) => line.startsWith('<li>')).map((line) => line.slice(4));
      return { by, list };
    });
}

const SHOWN = stages().flatMap((stage) => {
  const section = seeIt(readFileSync(join(stage.dir, 'README.md'), 'utf8'));
  return section && stage.cache ? [{ stage, cache: stage.cache, ...section }] : [];
});

test('the cached stages show what one cache per instance means', () => {
  assert.deepEqual(
    SHOWN.map(({ cache }) => cache).sort(),
    ['node-cache', 'redis'],
    'a "See it" section in the README of a node-cache stage and of a Redis stage',
  );
});

for (const { stage, cache, start, commands } of SHOWN) {
  test(`${stage.name}: its README's "See it" commands run as written and show what it says`, async () => {
    // One simple command, which the test runs as a learner's shell would.
    assert.match(start, /^npm start -- --instances=2 [\w-]+$/);
    const [command, ...args] = start.split(' ');
    const npm = startCommand(command!, args, { cwd: ROOT, env: ownServices() });
    let stopped;
    try {
      await npm.until('running; Ctrl-C stops everything.');
      const output = npm.output();
      // The table says two instances; each instance's lines carry its name.
      assert.match(output, new RegExp(`\n${stage.name} +http://localhost:\\d+/ +2 +`), output);
      const typed = await promisify(execFile)('bash', ['-c', commands], { cwd: ROOT });
      const seen = typed.stdout;
      const pages = refreshes(seen);
      assert.deepEqual(
        pages.map(({ by }) => by),
        [1, 2, 1, 2].map((instance) => `${stage.name}#${instance}`),
        seen,
      );
      const [first, second, third, fourth] = pages.map(({ list }) => list);
      const hasBob = (list: string[] | undefined) => list!.some((item) => item.endsWith(': bob'));
      if (cache === 'node-cache') {
        // Each instance answers from its own cache: two lists, in turn, and instance 1's
        // never learns of bob's visit, which instance 2 stored.
        assert.notDeepEqual(first, second, seen);
        assert.deepEqual(third, first, seen);
        assert.deepEqual(fourth, second, seen);
        assert.equal(hasBob(first), false, seen);
        assert.equal(hasBob(second), true, seen);
      } else {
        // One cache in Redis: one list, whichever instance answers, under one key.
        for (const list of [second, third, fourth]) assert.deepEqual(list, first, seen);
        assert.equal(hasBob(first), true, seen);
        assert.match(seen, /\n\nvisits\n$/, 'redis-cli lists one key, visits');
      }
      for (const instance of [1, 2]) {
        assert.match(npm.output(), new RegExp(`^\\[${stage.name}#${instance}\\] \\{`, 'm'));
      }
    } finally {
      stopped = await npm.stop(); // SIGTERM to npm alone, as a process manager stops it
    }
    assert.deepEqual(stopped.left, [], 'everything npm start started has exited');
    assert.deepEqual(stopped.exit, [0, null], npm.output());
    assert.match(npm.output(), /stopped everything it started: 2 servers, 1 front(,| and)/);
  });
}

for (const stage of stages()) {
  const readme = readFileSync(join(stage.dir, 'README.md'), 'utf8');
  const runLocally = section(readme, /^## Run locally$/m);
  test(`${stage.name}: its README's "Run locally" commands run as written and serve the page`, async () => {
    assert.ok(runLocally, `modules/${stage.name}/README.md has a "Run locally" section`);
    const [start, alone, ...more] = runLocally.blocks;
    assert.equal(more.length, 0, 'npm start, and at most the server alone');
    assert.equal(start, `npm start -- ${stage.name}`);
    const url = /http:\/\/localhost:(\d+)\//.exec(runLocally.text)?.[0];
    assert.ok(url, 'it says where the page is');

    const npm = startCommand('npm', start.split(' ').slice(1), { cwd: ROOT, env: ownServices() });
    let stopped;
    try {
      await npm.until('running; Ctrl-C stops everything.');
      assert.match(npm.output(), new RegExp(`\n${stage.name} +${url} +1 +`), npm.output());
      const page = await get(url.replace('localhost', '127.0.0.1'), { 'user-agent': 'readme' });
      assert.equal(page.status, 200);
      assert.match(listItems(page.body)[0] ?? '', /: readme$/);
    } finally {
      stopped = await npm.stop();
    }
    assert.deepEqual(stopped.left, [], 'everything npm start started has exited');
    assert.deepEqual(stopped.exit, [0, null], npm.output());

    if (alone === undefined) return;
    // The server alone, as App Engine runs it, against an emulator started by hand.
    const [, emulatorPort, port] =
      /^npm run build\nDATASTORE_EMULATOR_HOST=localhost:(\d+) PORT=(\d+) npm start -w modules\/([\w-]+)$/.exec(
        alone,
      ) ?? [];
    assert.ok(emulatorPort && port, alone);
    const [build, serve] = alone.split('\n') as [string, string];
    await promisify(execFile)('bash', ['-c', build], { cwd: ROOT });
    const emulator = await startDatastoreEmulator({ port: Number(emulatorPort) });
    // One command: bash runs it in its own stead, so SIGTERM reaches npm, as Ctrl-C would.
    const server = startCommand('bash', ['-c', serve], { cwd: ROOT, env: ownServices() });
    try {
      await server.until(`"Listening on port ${port}"`);
      const page = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'by hand' });
      assert.equal(page.status, 200, server.output());
      assert.match(listItems(page.body)[0] ?? '', /: by hand$/);
    } finally {
      stopped = await server.stop();
      await emulator.stop();
    }
    assert.deepEqual(stopped.left, [], 'SIGTERM to npm reached the server: nothing is left');
    assert.deepEqual(stopped.exit, [0, null], server.output());
  });
}
