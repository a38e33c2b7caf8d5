// The learner's path, as a learner takes it: `npm run exercise` makes a copy of a stage's
// START, `npm run check` builds it and holds it to the FINISH stage's own tests (a real
// Datastore emulator and redis-server), `--reset` puts START back, `--start` serves it.
// Every copy here goes in a folder of the test's own, beside the learner's `exercises/`, so
// each stage's lesson is checked at the same time as the others'.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { freePort, get, isListening, listItems, processTree, startCommand } from '@visitme/harness';
import { lessonFiles } from '@visitme/stage-diff';
import { ROOT, readmeName, stages, type Stage } from '@visitme/stages';
import { BEHAVIOURS, DEPENDENCIES, SECTIONS } from '../src/behaviours.js';
import {
  BEHAVIOUR_FILES,
  OTHER_FILES,
  STAGE_TESTS_DIR,
  readmeSections,
  report,
} from '../src/exercise.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const DIFF_CLI = join(ROOT, 'packages', 'stage-diff', 'dist', 'src', 'cli.js');
// The CLI is a program of its own, not a child of this test file: without the runner's
// NODE_TEST_CONTEXT, which would make its own test run refuse to start.
const { NODE_TEST_CONTEXT: _, ...outside } = process.env;

/** The stages a learner can make from another, and the last of them. */
const LESSONS = stages().filter((stage) => stage.start);
const LAST = LESSONS.at(-1)!;
const short = (stage: Stage) => stage.name.split('-')[0]!;

/** A folder of the test's own for the learner's copies, removed after it; its environment. */
function exercises(t: TestContext) {
  const dir = mkdtempSync(join(ROOT, '.exercises-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, env: { ...outside, VISITME_EXERCISES_DIR: dir, NO_COLOR: '1' } };
}

/** A command run to its end, as a learner would from the repository root: its exit code and output. */
async function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, output };
}

/** The CLI as `npm run exercise` / `npm run check` run it. */
const cli = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  run(process.execPath, [CLI, ...args], env);

/** `npm run diff --silent -- FROM TO`, applied to the copy as a learner would with git. */
async function applyLesson(dir: string, stage: Stage) {
  const patch = await run(process.execPath, [DIFF_CLI, stage.start!, stage.name], outside);
  const applied = spawn('git', ['apply', '-p1', '-'], { cwd: join(dir, stage.name) });
  applied.stdin.end(patch.output);
  let errors = '';
  applied.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const [status] = await once(applied, 'close');
  assert.equal(status, 0, errors);
}

/** The `✓`/`✗` lines of a check, by what they say. */
function behaviours(output: string) {
  const lines = output.split('\n').filter((line) => /^[✓✗] /.test(line));
  return {
    passed: lines.filter((line) => line.startsWith('✓')),
    failed: lines.filter((line) => line.startsWith('✗')),
  };
}

const says = (name: keyof typeof BEHAVIOURS) => BEHAVIOURS[name]!.says;

test('every stage with a START explains each kind of behaviour it is checked for, under its heading', () => {
  const kinds = new Set(Object.values(BEHAVIOURS).map(({ kind }) => kind));
  assert.ok(LESSONS.length >= 1);
  for (const stage of LESSONS) {
    for (const kind of kinds) {
      if (kind === 'faults' && stage.cache !== 'redis') continue; // failing open is Redis's
      assert.ok(
        readmeSections(stage).includes(SECTIONS[kind]),
        `${stage.name}'s README explains its ${kind} behaviours under "## ${SECTIONS[kind]}"`,
      );
    }
  }
});

test('a behaviour reads as the table says; a test not in the table still gets its line', () => {
  const sigterm = `${LAST.name}: SIGTERM lets the in-flight request finish, refuses new ones, exits 0`;
  assert.equal(
    report(LAST, sigterm, true).line,
    `✓ ${says('SIGTERM lets the in-flight request finish, refuses new ones, exits 0')}: ${readmeName(LAST)}, What stays the same`,
  );
  assert.equal(
    report(LAST, 'a test written after the table', false).line,
    `✗ a test written after the table: ${readmeName(LAST)}`,
  );
});

test('every stage-tests file is either checked or named as not a behaviour file', () => {
  const files = readdirSync(STAGE_TESTS_DIR).filter((file) => file.endsWith('.test.js'));
  assert.deepEqual(files.sort(), [...BEHAVIOUR_FILES, ...OTHER_FILES].sort());
});

test('exercise: a copy of START, kept when asked again, START again with --reset, ignored by git', async (t) => {
  const { dir, env } = exercises(t);
  const copy = join(dir, LAST.name);
  const made = await cli(env, 'exercise', short(LAST));
  assert.equal(made.status, 0, made.output);
  assert.match(made.output, new RegExp(`is a copy of ${LAST.start}, the START of ${LAST.name}`));
  assert.deepEqual(lessonFiles(LAST.name, dir), lessonFiles(LAST.start!));
  assert.equal(existsSync(join(copy, 'README.md')), false, "START's README is not the lesson");

  writeFileSync(join(copy, 'src', 'main.ts'), 'my work\n');
  const again = await cli(env, 'exercise', short(LAST));
  assert.equal(again.status, 0);
  assert.match(again.output, /exists already: your work is kept/);
  assert.equal(readFileSync(join(copy, 'src', 'main.ts'), 'utf8'), 'my work\n');

  assert.equal((await cli(env, 'exercise', short(LAST), '--reset')).status, 0);
  assert.deepEqual(lessonFiles(LAST.name, dir), lessonFiles(LAST.start!));

  for (const folder of [copy, join(ROOT, 'exercises', LAST.name)]) {
    const ignored = await run('git', ['check-ignore', '-q', join(folder, 'src', 'main.ts')], env);
    assert.equal(ignored.status, 0, `${folder} is git-ignored`);
  }
  const status = await run('git', ['status', '--porcelain', '--', 'modules', dir], env);
  assert.equal(status.output, '', 'git status stays clean');
  const first = stages().find((stage) => !stage.start)!;
  assert.equal((await cli(env, 'exercise', short(first))).status, 2, 'the first has no START');
});

test('check: a type error is shown as the compiler prints it, and no test runs', async (t) => {
  const { dir, env } = exercises(t);
  await cli(env, 'exercise', short(LAST));
  appendFileSync(join(dir, LAST.name, 'src', 'main.ts'), "const oops: number = 'one';\n");
  const check = await cli(env, 'check', short(LAST));
  assert.equal(check.status, 1);
  assert.match(
    check.output,
    /src\/main\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'\./,
  );
  assert.match(check.output, /✗ \S+ does not compile: the compiler's messages are above\./);
  assert.deepEqual(behaviours(check.output).passed, [], 'no behaviour was checked');
});

// Each stage's lesson at the same time as the others': each in a folder of its own.
describe('every lesson, as a learner checks it', { concurrency: true }, () => {
  for (const stage of LESSONS) {
    describe(`${stage.name}, from ${stage.start}`, () => {
      const readme = readmeName(stage);

      test('check: the untouched copy fails, saying each cause once, first, in its own README', async (t) => {
        const { env } = exercises(t);
        await cli(env, 'exercise', short(stage));
        const check = await cli(env, 'check', short(stage));
        assert.equal(check.status, 1, check.output);
        const { passed, failed } = behaviours(check.output);
        assert.ok(
          failed.includes(
            `✗ ${says('one visitor, many requests: one Visit; a second visitor: one more')}: ${readme}, Application changes`,
          ),
          check.output,
        );
        // What to do next comes first, each cause once: the dependency the lesson adds
        // (node-cache, ioredis), with where the README explains it.
        const next = /^Next:\n((?: {2}\d+\. .+\n)+)/m.exec(check.output)?.[1] ?? '';
        assert.match(
          next,
          new RegExp(
            `^ {2}1\\. add (node-cache|ioredis) to package\\.json's dependencies.*: ${readme}, Configuration changes$`,
            'm',
          ),
          check.output,
        );
        for (const cause of next.trimEnd().split('\n')) {
          const reason = cause
            .replace(/^ {2}\d+\. /, '')
            .replace(/( \(\d+ behaviours wait on this\))?: Module .*$/, '');
          assert.equal(check.output.split(reason).length - 1, 1, `said once: ${reason}`);
        }
        assert.ok(
          next.split('\n').length - 1 <= 3,
          `a few causes, not one per behaviour:\n${next}`,
        );
        const dependencies = `✗ ${says(DEPENDENCIES)}: ${readme}, Configuration changes`;
        assert.ok(failed.includes(dependencies), check.output);
        // Every behaviour points into this stage's README, in plain words about the app.
        assert.doesNotMatch(check.output, new RegExp(`Module (?!${stage.module} )\\d+ README`));
        assert.doesNotMatch(check.output, /packages\/|dist\/test|\.js:\d+|\bat \w+ \(/);
        assert.match(
          check.output,
          new RegExp(
            `^${passed.length} of ${passed.length + failed.length} behaviours pass\\.$`,
            'm',
          ),
        );
      });

      test('check: the official lesson applied passes every behaviour, each in plain words', async (t) => {
        const { dir, env } = exercises(t);
        await cli(env, 'exercise', short(stage));
        await applyLesson(dir, stage);
        const check = await cli(env, 'check', short(stage));
        assert.equal(check.status, 0, check.output);
        const { passed, failed } = behaviours(check.output);
        assert.deepEqual(failed, []);
        const known = new Set(Object.values(BEHAVIOURS).map((behaviour) => behaviour.says));
        for (const line of passed) {
          assert.ok(
            known.has(line.slice(2).replace(/: Module \d+ README.*$/, '')),
            `in the table: ${line}`,
          );
        }
        assert.ok(
          passed.includes(
            `✓ ${says('a returning visitor is served from the cache even while Datastore is down')}: ${readme}, Application changes`,
          ),
        );
        assert.doesNotMatch(check.output, /^Next:/m, 'nothing left to do');
        assert.match(check.output, new RegExp(`^All ${passed.length} behaviours pass\\.`, 'm'));

        const diff = await run(process.execPath, [DIFF_CLI, 'exercise', short(stage)], env);
        assert.equal(diff.status, 0, diff.output);
        assert.match(diff.output, /^no differences$/m);
      });
    });
  }
});

test('npm run check: SIGTERM to npm stops its tests and the servers they started, and says so', async (t) => {
  const { env } = exercises(t);
  await cli(env, 'exercise', short(LAST));
  const npm = startCommand('npm', ['run', 'check', '--', short(LAST)], { env, cwd: ROOT });
  t.after(() => npm.child.kill('SIGKILL'));
  await npm.until('Checking it with');
  // Stopped once its tests have started their servers.
  for (let n = 0; n < 300; n++) {
    const running = (await processTree(npm.child.pid!)).map(({ command }) => command);
    if (running.some((command) => /redis-server/.test(command))) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { exit, left } = await npm.stop(); // SIGTERM to npm, and nothing else
  assert.deepEqual(exit, [0, null], npm.output());
  assert.deepEqual(left, [], 'every process it started has exited');
  assert.match(npm.output(), /\nStopped: the check and the servers its tests started\.\n$/);
  assert.doesNotMatch(npm.output(), /behaviours pass/, 'no verdict on a check cut short');
});

test('npm run exercise -- … --start serves the copy; SIGTERM to npm stops all it started, and says so', async (t) => {
  const { env } = exercises(t);
  await cli(env, 'exercise', short(LAST));
  const port = await freePort();
  // As a learner types it, and as a process manager stops it: SIGTERM to npm, and nothing else.
  const npm = startCommand(
    'npm',
    ['run', 'exercise', '--', short(LAST), '--start', `--port=${port}`],
    { env, cwd: ROOT },
  );
  t.after(() => npm.child.kill('SIGKILL'));
  await npm.until('Ctrl-C stops it.');
  const output = npm.output;
  assert.match(
    output(),
    new RegExp(
      `Your ${LAST.name}: http://localhost:${port}/ +\\(Datastore emulator at 127\\.0\\.0\\.1:\\d+, Redis at 127\\.0\\.0\\.1:\\d+\\)`,
    ),
  );
  assert.doesNotMatch(output(), /turbo|Packages in scope|FULL TURBO/, 'no build tool chatter');
  const page = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'learner' });
  assert.equal(page.status, 200);
  assert.match(listItems(page.body)[0] ?? '', / from 127\.0\.0\.1: learner$/);

  const started = await processTree(npm.child.pid!);
  const commands = started.map(({ command }) => command).join('\n');
  assert.match(commands, /cloud_datastore_emulator|CloudDatastore/, commands);
  assert.match(commands, /redis-server/, commands);
  const { exit, left } = await npm.stop(); // SIGTERM to npm, and nothing else
  assert.deepEqual(exit, [0, null], output());
  assert.deepEqual(left, [], 'every process it started has exited');
  assert.equal(await isListening(port), false);
  assert.match(output(), /Stopped your copy and the servers it used\.\n$/);
});
