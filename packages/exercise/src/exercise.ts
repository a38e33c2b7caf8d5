// A learner's own copy of a stage's START (`exercises/<stage>/`, git-ignored), built with the
// stages' tsconfig and held to the FINISH stage's own tests from packages/stage-tests.
import type { AssertionError } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { inspect } from 'node:util';
import { run } from 'node:test';
import { TEST_EMULATOR_VARIABLE, testEmulator } from '@visitme/harness';
import { exercisesDir, findStage, readmeName, startOf, stages, type Stage } from '@visitme/stages';
import {
  BEHAVIOURS,
  DEPENDENCIES,
  TESTS_RAN,
  SECTIONS,
  behaviourKey,
  type BehaviourKind,
} from './behaviours.js';

// What a copy leaves out: build output and installs, and the START's README, which
// describes the START stage and not the lesson (read the FINISH stage's README for that).
const NOT_COPIED = new Set(['dist', 'node_modules', '.turbo', '.deploy', 'README.md']);

export interface Exercise {
  /** The FINISH stage, whose tests the copy is held to. */
  stage: Stage;
  /** The stage the copy starts from. */
  start: Stage;
  dir: string;
}

/** `mod13`, `13` or `mod13-redis`: the exercise of making that stage from its START. */
export function exercise(name: string): Exercise {
  const all = stages();
  const stage = findStage(name, all);
  const start = startOf(stage, all);
  if (!start) {
    const others = all.filter((other) => other.start).map((other) => other.name);
    throw new Error(
      `${stage.name} is where the codelabs start: it has no START here. Try ${others.join(', ')}.`,
    );
  }
  return { stage, start, dir: join(exercisesDir(), stage.name) };
}

/** Copies START into the exercise folder; `false` when the copy is there already. */
export function createCopy({ start, dir }: Exercise, { reset = false } = {}): boolean {
  if (existsSync(dir) && !reset) return false;
  rmSync(dir, { recursive: true, force: true });
  cpSync(start.dir, dir, {
    recursive: true,
    filter: (path) => path === start.dir || !NOT_COPIED.has(basename(path)),
  });
  return true;
}

/** Builds the copy as a stage is built (`rm -rf dist && tsc -p .`); the compiler's output
 * goes where `stdio` says. True when it compiled. */
export function buildCopy(dir: string, stdio: 'inherit' | 'pipe' = 'inherit') {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  const tsc = join(
    dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
    'bin',
    'tsc',
  );
  const result = spawnSync(process.execPath, [tsc, '-p', dir], { stdio, encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

// The stage-tests files that hold a stage's behaviour (not its deploy folder, its load and
// fault suite, or the browser). Every test in them is named for the stage it checks (its
// describe(), or a `<stage>: ` prefix), so a stage's own are picked out by name.
export const BEHAVIOUR_FILES = [
  'common.test.js',
  'caching.test.js',
  'redis.test.js',
  'server.test.js',
  'poison.test.js',
];
export const OTHER_FILES = [
  'browser.test.js',
  'deploy.test.js',
  'faults.test.js',
  'repo.test.js', // the repository's licence, manifests and test command
];
export const STAGE_TESTS_DIR = join(
  dirname(createRequire(import.meta.url).resolve('@visitme/stage-tests/package.json')),
  'dist',
  'test',
);

/**
 * The copy's `dependencies` against the stage's: code that imports a package the copy does
 * not list still runs here (the workspace installed it), but would not on App Engine.
 */
export function checkDependencies({ stage, dir }: Exercise): Result {
  const listed = Object.keys(
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies ?? {},
  );
  const wanted = Object.keys(stage.dependencies);
  const missing = wanted.filter((name) => !listed.includes(name));
  const extra = listed.filter((name) => !wanted.includes(name));
  const result = report(stage, DEPENDENCIES, missing.length + extra.length === 0);
  if (result.passed) return result;
  const reasons = [
    ...(missing.length ? [`add ${missing.join(', ')} to package.json's dependencies`] : []),
    ...(extra.length
      ? [`${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not needed any more`]
      : []),
  ];
  return { ...result, reason: reasons.join('; ') };
}

export interface Result {
  /** The test's name. */
  name: string;
  passed: boolean;
  /** In the learner's words, with where to read about it; the test's name if not listed. */
  line: string;
  /** Where its README explains it: `Module 13 README, Application changes`. */
  where: string;
  /** What kind of behaviour it is, when the table knows it. */
  kind?: BehaviourKind;
  /** Why it failed, in one line. */
  reason?: string;
}

/** Runs the FINISH stage's own tests against the built copy, one result per test. */
export async function checkCopy(
  { stage, dir }: Exercise,
  onResult: (result: Result) => void = () => {},
  signal?: AbortSignal,
): Promise<Result[]> {
  const results: Result[] = [];
  // One Datastore emulator for every test file of the check, not one each: seconds saved.
  const emulator = await testEmulator();
  const previous = {
    stage: process.env.VISITME_STAGE_DIR,
    emulator: process.env[TEST_EMULATOR_VARIABLE],
  };
  process.env.VISITME_STAGE_DIR = `${stage.name}=${dir}`; // the test processes inherit these
  process.env[TEST_EMULATOR_VARIABLE] = emulator.host;
  try {
    const stream = run({
      files: BEHAVIOUR_FILES.map((file) => join(STAGE_TESTS_DIR, file)),
      concurrency: 2, // files at once: each has its own Redis, and a project for each test
      testNamePatterns: [new RegExp(`^${stage.name}(: |$)`)],
      ...(signal && { signal }),
    });
    // Node 22 and 24 also report a file none of whose tests is the stage's, as a test named
    // for its path: no behaviour, unless it failed (the file could not run at all).
    const wholeFile = (event: { name: string; file?: string }) => event.name === event.file;
    stream.on('test:pass', (event) => {
      if (event.skip === undefined && event.details.type !== 'suite' && !wholeFile(event)) {
        results.push(report(stage, event.name, true));
        onResult(results.at(-1)!);
      }
    });
    stream.on('test:fail', (event) => {
      if (event.details.type === 'suite') return;
      const error = event.details.error as Error & { cause?: unknown };
      const cause = error.cause instanceof Error ? error.cause : error;
      const name = wholeFile(event) ? TESTS_RAN : event.name;
      results.push({ ...report(stage, name, false), reason: reason(cause, dir) });
      onResult(results.at(-1)!);
    });
    for await (const _ of stream); // the listeners above report; this waits for the end
  } finally {
    restore('VISITME_STAGE_DIR', previous.stage);
    restore(TEST_EMULATOR_VARIABLE, previous.emulator);
    await emulator.stop();
  }
  return results;
}

function restore(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** One result line: the behaviour in the learner's words, or the test's own name. */
export function report(stage: Stage, name: string, passed: boolean): Result {
  const behaviour = BEHAVIOURS[behaviourKey(name, stage.name)];
  const section = behaviour && SECTIONS[behaviour.kind];
  const where = section ? `${readmeName(stage)}, ${section}` : readmeName(stage);
  const says = behaviour?.says ?? behaviourKey(name, stage.name);
  const line = `${passed ? '✓' : '✗'} ${says}: ${where}`;
  return { name, passed, where, line, ...(behaviour && { kind: behaviour.kind }) };
}

/** The `## ` headings of a stage's README. */
export function readmeSections(stage: Stage): string[] {
  const text = readFileSync(join(stage.dir, 'README.md'), 'utf8');
  return [...text.matchAll(/^## (.+)$/gm)].map((match) => match[1]!.trim());
}

export interface Cause {
  /** What to do, in one line. */
  reason: string;
  /** Where the README explains it. */
  where: string;
  /** How many behaviours fail for it. */
  count: number;
}

/**
 * What a learner should do next: each reason that fails several behaviours (or their
 * dependencies), once, with how many it fails, the dependencies first (the lesson starts
 * there), then by how many they fail. A cause points to the README section of the lesson it
 * breaks (a change that breaks the page is still made in the lesson's code), unless it breaks
 * only what stays the same.
 */
export function causes(results: Result[]): Cause[] {
  const byReason = new Map<string, Cause & { lesson: boolean }>();
  for (const result of results) {
    if (result.passed || !result.reason) continue;
    const lesson = result.kind !== undefined && result.kind !== 'page';
    const cause = byReason.get(result.reason) ?? {
      reason: result.reason,
      where: result.where,
      count: 0,
      lesson,
    };
    if (lesson && !cause.lesson) Object.assign(cause, { where: result.where, lesson });
    cause.count += 1;
    byReason.set(result.reason, cause);
  }
  const dependencies = results.find((result) => result.name === DEPENDENCIES && !result.passed);
  return [...byReason.values()]
    .map(({ reason, where, count }) => ({ reason, where, count }))
    .filter((cause) => cause.count > 1 || cause.reason === dependencies?.reason)
    .sort(
      (a, b) =>
        Number(b.reason === dependencies?.reason) - Number(a.reason === dependencies?.reason) ||
        b.count - a.count,
    );
}

/** The first line of a failure, in words about the learner's code, never the tests' own paths. */
function reason(error: Error, dir: string): string {
  const missing = /^Cannot find module '([^']+)'/.exec(error.message)?.[1];
  const built = join(dir, 'dist', 'src') + sep;
  if (missing?.startsWith(built)) {
    const source = missing.slice(built.length).replace(/\.js$/, '.ts');
    return `your copy has no src/${source}, which the tests load (its built ${relative(dir, missing)})`;
  }
  // From the test process an assertion arrives as a plain Error with the assertion's fields.
  const { code, generatedMessage, actual, expected } = error as Partial<AssertionError>;
  if (code === 'ERR_ASSERTION' && generatedMessage) {
    const shown = (value: unknown) =>
      value instanceof Error ? value.message : inspect(value, { breakLength: Infinity });
    return `expected ${shown(expected)}, got ${shown(actual)}`;
  }
  return error.message.trim().split('\n')[0] ?? '';
}
