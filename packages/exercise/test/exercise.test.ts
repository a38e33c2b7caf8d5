// The learner's path, as a learner takes it: `npm run exercise` makes a copy of a stage's
// START, `npm run check` builds it and holds it to the FINISH stage's own tests (a real
// Datastore emulator and redis-server), `--reset` puts START back, `--start` serves it.
// Every copy here goes in a folder of this test's own, beside the learner's `exercises/`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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
import { after, describe, test } from 'node:test';
import { freePort, get, listItems } from '@visitme/harness';
import { lessonFiles } from '@visitme/stage-diff';
import { ROOT, findStage, stages } from '@visitme/stages';
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
const EXERCISES = mkdtempSync(join(ROOT, '.exercises-test-'));
after(() => rmSync(EXERCISES, { recursive: true, force: true }));
// The CLI is a program of its own, not a child of this test file: without the runner's
// NODE_TEST_CONTEXT, which would make its own test run refuse to start.
const { NODE_TEST_CONTEXT: _, ...outside } = process.env;
const env = { ...outside, VISITME_EXERCISES_DIR: EXERCISES, NO_COLOR: '1' };

/** The CLI as `npm run exercise` / `npm run check` run it, with its exit code and output. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', cwd: ROOT });
  return { status: result.status, output: result.stdout + result.stderr };
}

/** `npm run diff --silent -- FROM TO`, applied to the copy as a learner would with git. */
function applyLesson(from: string, to: string) {
  const patch = spawnSync(process.execPath, [DIFF_CLI, from, to], { encoding: 'utf8' }).stdout;
  const applied = spawnSync('git', ['apply', '-p1', '-'], {
    cwd: join(EXERCISES, to),
    input: patch,
    encoding: 'utf8',
  });
  assert.equal(applied.status, 0, applied.stderr);
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
  const lessons = stages().filter((stage) => stage.start);
  assert.ok(lessons.length >= 1);
  for (const stage of lessons) {
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
  const sigterm =
    'mod13-redis: SIGTERM lets the in-flight request finish, refuses new ones, exits 0';
  const mod13 = findStage('mod13-redis');
  assert.equal(
    report(mod13, sigterm, true).line,
    `✓ ${says('SIGTERM lets the in-flight request finish, refuses new ones, exits 0')}: Module 13 README, What stays the same`,
  );
  assert.equal(
    report(findStage('mod12-memcache'), 'a test written after the table', false).line,
    '✗ a test written after the table: Module 12 README',
  );
});

test('every stage-tests file is either checked or named as not a behaviour file', () => {
  const files = readdirSync(STAGE_TESTS_DIR).filter((file) => file.endsWith('.test.js'));
  assert.deepEqual(files.sort(), [...BEHAVIOUR_FILES, ...OTHER_FILES].sort());
});

test('exercise: a copy of START, kept when asked again, START again with --reset, ignored by git', () => {
  const copy = join(EXERCISES, 'mod13-redis');
  const made = cli('exercise', 'mod13');
  assert.equal(made.status, 0, made.output);
  assert.match(made.output, /is a copy of mod12-memcache, the START of mod13-redis/);
  assert.deepEqual(lessonFiles('mod13-redis', EXERCISES), lessonFiles('mod12-memcache'));
  assert.equal(existsSync(join(copy, 'README.md')), false, "START's README is not the lesson");

  writeFileSync(join(copy, 'src', 'main.ts'), 'my work\n');
  const again = cli('exercise', 'mod13');
  assert.equal(again.status, 0);
  assert.match(again.output, /exists already: your work is kept/);
  assert.equal(readFileSync(join(copy, 'src', 'main.ts'), 'utf8'), 'my work\n');

  assert.equal(cli('exercise', 'mod13', '--reset').status, 0);
  assert.deepEqual(lessonFiles('mod13-redis', EXERCISES), lessonFiles('mod12-memcache'));

  for (const dir of [copy, join(ROOT, 'exercises', 'mod13-redis')]) {
    const ignored = spawnSync('git', ['check-ignore', '-q', join(dir, 'src', 'main.ts')], {
      cwd: ROOT,
    });
    assert.equal(ignored.status, 0, `${dir} is git-ignored`);
  }
  const status = spawnSync('git', ['status', '--porcelain', '--', 'modules', EXERCISES], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(status.stdout, '', 'git status stays clean');
  assert.equal(cli('exercise', 'mod1').status, 2, 'Module 1 has no START here');
});

test('check: a type error is shown as the compiler prints it, and no test runs', () => {
  cli('exercise', 'mod13', '--reset');
  appendFileSync(join(EXERCISES, 'mod13-redis', 'src', 'main.ts'), "const oops: number = 'one';\n");
  const check = cli('check', 'mod13');
  assert.equal(check.status, 1);
  assert.match(
    check.output,
    /src\/main\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'\./,
  );
  assert.match(check.output, /✗ \S+ does not compile: the compiler's messages are above\./);
  assert.deepEqual(behaviours(check.output).passed, [], 'no behaviour was checked');
});

for (const [stage, start, short] of [
  ['mod13-redis', 'mod12-memcache', 'mod13'],
  ['mod12-memcache', 'mod1-baseline', 'mod12'],
] as const) {
  describe(`${stage}, from ${start}`, () => {
    test('check: the untouched copy fails, saying each cause once, first, in its own README', () => {
      cli('exercise', short, '--reset');
      const check = cli('check', short);
      assert.equal(check.status, 1, check.output);
      const { passed, failed } = behaviours(check.output);
      const readme = `Module ${short.slice(3)} README`;
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
      assert.ok(next.split('\n').length - 1 <= 3, `a few causes, not one per behaviour:\n${next}`);
      const dependencies = `✗ ${says(DEPENDENCIES)}: ${readme}, Configuration changes`;
      assert.ok(failed.includes(dependencies), check.output);
      // Every behaviour points into this stage's README, in plain words about the app.
      assert.doesNotMatch(check.output, new RegExp(`Module (?!${short.slice(3)} )\\d+ README`));
      assert.doesNotMatch(check.output, /packages\/|dist\/test|\.js:\d+|\bat \w+ \(/);
      assert.match(
        check.output,
        new RegExp(
          `^${passed.length} of ${passed.length + failed.length} behaviours pass\\.$`,
          'm',
        ),
      );
    });

    test('check: the official lesson applied passes every behaviour, each in plain words', () => {
      cli('exercise', short, '--reset');
      applyLesson(start, stage);
      const check = cli('check', short);
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
          `✓ ${says('a returning visitor is served from the cache even while Datastore is down')}: Module ${short.slice(3)} README, Application changes`,
        ),
      );
      assert.doesNotMatch(check.output, /^Next:/m, 'nothing left to do');
      assert.match(check.output, new RegExp(`^All ${passed.length} behaviours pass\\.`, 'm'));

      const diff = spawnSync(process.execPath, [DIFF_CLI, 'exercise', short], {
        env,
        encoding: 'utf8',
      });
      assert.equal(diff.status, 0, diff.stderr);
      assert.match(diff.stdout, /^no differences$/m);
    });
  });
}

test('exercise --start: the copy builds, runs on its port with the emulator and Redis, serves the page', async (t) => {
  cli('exercise', 'mod13', '--reset');
  const port = await freePort();
  const server = spawn(process.execPath, [CLI, 'exercise', 'mod13', '--start', `--port=${port}`], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => server.kill('SIGKILL'));
  let output = '';
  server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('Ctrl-C stops it.')) {
    assert.equal(server.exitCode, null, output);
    await Promise.race([once(server.stdout!, 'data'), once(server, 'exit')]);
  }
  assert.match(
    output,
    new RegExp(
      `Your mod13-redis: http://localhost:${port}/ +\\(Datastore emulator at 127\\.0\\.0\\.1:\\d+, Redis at 127\\.0\\.0\\.1:\\d+\\)`,
    ),
  );
  const page = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'learner' });
  assert.equal(page.status, 200);
  assert.match(listItems(page.body)[0] ?? '', / from .*: learner$/);
  const exited = once(server, 'exit');
  server.kill('SIGINT');
  assert.deepEqual(await exited, [0, null]);
});
