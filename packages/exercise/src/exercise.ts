// A learner's own copy of a stage's START (`exercises/<stage>/`, git-ignored), built with the
// stages' tsconfig and held to the FINISH stage's own tests from packages/stage-tests.
import type { AssertionError } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { run } from 'node:test';
import { MODULES_DIR, exercisesDir, resolveStage, stages } from '@visitme/stage-diff';
import { BEHAVIOURS, DEPENDENCIES, behaviourKey } from './behaviours.js';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

// What a copy leaves out: build output and installs, and the START's README, which
// describes the START stage and not the lesson (read the FINISH stage's README for that).
const NOT_COPIED = new Set(['dist', 'node_modules', '.turbo', '.deploy', 'README.md']);

export interface Exercise {
  /** The FINISH stage, whose tests the copy is held to. */
  stage: string;
  /** The stage the copy starts from. */
  start: string;
  dir: string;
}

/** `mod13`, `13` or `mod13-redis`: the exercise of making that stage from the one before. */
export function exercise(name: string): Exercise {
  const all = stages();
  const stage = resolveStage(name, all);
  const index = all.indexOf(stage);
  if (index === 0) {
    const next = all.slice(1).join(', ');
    throw new Error(`${stage} is where the codelabs start: it has no START here. Try ${next}.`);
  }
  return { stage, start: all[index - 1]!, dir: join(exercisesDir(), stage) };
}

/** Copies START into the exercise folder; `false` when the copy is there already. */
export function createCopy({ start, dir }: Exercise, { reset = false } = {}): boolean {
  if (existsSync(dir) && !reset) return false;
  rmSync(dir, { recursive: true, force: true });
  const from = join(MODULES_DIR, start);
  cpSync(from, dir, {
    recursive: true,
    filter: (path) => path === from || !NOT_COPIED.has(basename(path)),
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
// fault suite, or the browser), and for a file that tests one stage only, that stage. Tests
// of the other files run when their name, or their describe()'s, starts with the stage's.
export const BEHAVIOUR_FILES: Record<string, string | undefined> = {
  'common.test.js': undefined,
  'caching.test.js': undefined,
  'redis.test.js': 'mod13-redis',
  'server.test.js': undefined,
  'poison.test.js': undefined,
};
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
  const names = (folder: string) =>
    Object.keys(JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).dependencies ?? {});
  const [wanted, listed] = [names(join(MODULES_DIR, stage)), names(dir)];
  const missing = wanted.filter((name) => !listed.includes(name));
  const extra = listed.filter((name) => !wanted.includes(name));
  const result = report(stage, DEPENDENCIES, missing.length + extra.length === 0);
  if (result.passed) return result;
  const reasons = [
    ...(missing.length ? [`add ${missing.join(', ')}`] : []),
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
  /** Why it failed: the first line of the failure. */
  reason?: string;
}

/** Runs the FINISH stage's own tests against the built copy, one result per test. */
export async function checkCopy(
  { stage, dir }: Exercise,
  onResult: (result: Result) => void = () => {},
): Promise<Result[]> {
  const results: Result[] = [];
  const previous = process.env.VISITME_STAGE_DIR;
  process.env.VISITME_STAGE_DIR = `${stage}=${dir}`; // the test processes inherit it
  try {
    for (const [file, only] of Object.entries(BEHAVIOUR_FILES)) {
      if (only && only !== stage) continue;
      const stream = run({
        files: [join(STAGE_TESTS_DIR, file)],
        concurrency: 1,
        ...(!only && { testNamePatterns: [new RegExp(`^${stage}(: |$)`)] }),
      });
      stream.on('test:pass', (event) => {
        if (event.skip === undefined && event.details.type !== 'suite') {
          results.push(report(stage, event.name, true));
          onResult(results.at(-1)!);
        }
      });
      stream.on('test:fail', (event) => {
        if (event.details.type === 'suite') return;
        const error = event.details.error as Error & { cause?: unknown };
        const cause = error.cause instanceof Error ? error.cause : error;
        results.push({ ...report(stage, event.name, false), reason: reason(cause, dir) });
        onResult(results.at(-1)!);
      });
      for await (const _ of stream); // the listeners above report; this waits for the end
    }
  } finally {
    if (previous === undefined) delete process.env.VISITME_STAGE_DIR;
    else process.env.VISITME_STAGE_DIR = previous;
  }
  return results;
}

/** One result line: the behaviour in the learner's words, or the test's own name. */
export function report(stage: string, name: string, passed: boolean): Result {
  const behaviour = BEHAVIOURS[behaviourKey(name, stage)];
  const where = readmeName(behaviour?.readme ?? stage);
  const line = behaviour
    ? `${passed ? '✓' : '✗'} ${behaviour.says}: ${where}, ${behaviour.section}`
    : `${passed ? '✓' : '✗'} ${behaviourKey(name, stage)}: ${where}`;
  return { name, passed, line };
}

/** `mod13-redis` → `Module 13 README`. */
export function readmeName(stage: string): string {
  return `Module ${/^mod(\d+)/.exec(stage)?.[1] ?? stage} README`;
}

/** The `## ` headings of a stage's README. */
export function readmeSections(stage: string): string[] {
  const text = readFileSync(join(MODULES_DIR, stage, 'README.md'), 'utf8');
  return [...text.matchAll(/^## (.+)$/gm)].map((match) => match[1]!.trim());
}

/** The first line of a failure; a file the tests load that the copy lacks, said plainly. */
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
    const shown = (value: unknown) => inspect(value, { breakLength: Infinity }).slice(0, 100);
    return `expected ${shown(expected)}, got ${shown(actual)}`;
  }
  return error.message.trim().split('\n')[0] ?? '';
}
