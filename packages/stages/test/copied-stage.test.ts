// The root README's "Add a stage", done as it says in a copy of the repository: the last stage
// copied to a new folder, three lines of its package.json changed, `npm install`; then every
// tool takes the new stage in, none of them told of it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, get, listItems, startCommand } from '@visitme/harness';
import { ROOT, stages } from '../src/stages.js';

/** What a run of a command printed, and how it ended; never throws. */
async function run(command: string, args: string[], cwd: string, env = process.env) {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, {
      cwd,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { status: code, output: stdout + stderr };
  }
}

/**
 * A copy of the repository as it is here, built and installed: its own files copied, its
 * installed packages hard-linked (no download), nothing a learner or a test made in it.
 */
function scratchRepository(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'visitme-add-a-stage-'));
  const made = /^(node_modules|exercises|results|\.deploy|\.exercises-test-.*)$/;
  for (const entry of readdirSync(ROOT).filter((name) => !made.test(name))) {
    cpSync(join(ROOT, entry), join(scratch, entry), { recursive: true, verbatimSymlinks: true });
  }
  return scratch;
}

test('a copy of the last stage, renamed in three lines and installed, is a stage to every tool', async (t) => {
  const last = stages().at(-1)!;
  const scratch = scratchRepository();
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const links = await run('cp', ['-al', join(ROOT, 'node_modules'), scratch], ROOT);
  assert.equal(links.status, 0, links.output);

  // The README's steps: copy, change name, module and start, npm install.
  const module = last.module + 1;
  const name = `mod${module}-example`;
  const folder = join(scratch, 'modules', name);
  cpSync(join(scratch, 'modules', last.name), folder, { recursive: true });
  const manifestPath = join(folder, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  Object.assign(manifest, { name, visitme: { module, start: last.name } });
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const install = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund'],
    scratch,
  );
  assert.equal(install.status, 0, install.output);

  // The lesson from the last stage to the copy: nothing but its name and number.
  const diff = await run('npm', ['run', '--silent', 'diff', '--', last.name, name], scratch);
  assert.equal(diff.status, 0, diff.output);
  assert.match(diff.output, new RegExp(`### ${last.name} → ${name}\n\nno differences\n`));
  const lessons = await run('npm', ['run', '--silent', 'diff', '--', '--stat'], scratch);
  assert.match(lessons.output, new RegExp(`### ${last.name} → ${name}\n`), lessons.output);

  // With the values a Redis stage's app.yaml leaves to the learner, as its README sets them.
  const values = {
    REDIS_HOST: '10.0.0.3',
    REDIS_PORT: '6379',
    VPC_ACCESS_CONNECTOR: 'projects/p/locations/us-central1/connectors/visitme-connector',
  };
  const prepare = await run(
    'npm',
    ['run', '--silent', 'deploy:prepare', '-w', `modules/${name}`],
    scratch,
    { ...process.env, ...values },
  );
  assert.equal(prepare.status, 0, prepare.output);
  assert.match(prepare.output, new RegExp(`^Deploy folder: \\.deploy/${name}\n`));

  const exercise = await run('npm', ['run', '--silent', 'exercise', '--', name], scratch);
  assert.equal(exercise.status, 0, exercise.output);
  assert.match(exercise.output, new RegExp(`is a copy of ${last.name}, the START of ${name}`));

  // The copied README still shows the last stage's lesson, which is not the copy's: the
  // docs check reads it, and says so.
  const docs = await run('npm', ['run', '--silent', 'docs'], scratch);
  assert.notEqual(docs.status, 0, docs.output);
  assert.match(
    docs.output,
    new RegExp(
      `^modules/${name}/README\\.md shows hunk 1 of \\S+, but ${last.name} → ${name} has 0`,
    ),
    docs.output,
  );
  assert.doesNotMatch(docs.output, /\bat \S+ \(|node:internal|dist\//, 'no stack lines');

  // npm start serves it on the next port, with its own Redis, and stops it on SIGTERM.
  const base = await freePort(100);
  const npm = startCommand('npm', ['start', '--', `--base-port=${base}`, name], { cwd: scratch });
  let stopped;
  try {
    await npm.until('running; Ctrl-C stops everything.');
    const port = base + stages().length + 1;
    assert.match(
      npm.output(),
      new RegExp(`\n${name} +http://localhost:${port}/ +1 +.* \\+ Redis at`),
    );
    const page = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'the new stage' });
    assert.equal(page.status, 200, npm.output());
    assert.match(listItems(page.body)[0] ?? '', /: the new stage$/);
  } finally {
    stopped = await npm.stop();
  }
  assert.deepEqual(stopped.left, [], 'everything npm start started has exited');
  assert.deepEqual(stopped.exit, [0, null], npm.output());
});
