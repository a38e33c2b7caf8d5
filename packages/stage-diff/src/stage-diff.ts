// What a learner sees between two stage folders: the lesson, and nothing that is not the
// lesson (build output, lockfiles, each folder's workspace name, the READMEs).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTwoFilesPatch, structuredPatch } from 'diff';

export const MODULES_DIR = fileURLToPath(new URL('../../../../modules/', import.meta.url));

/**
 * Where `npm run exercise` puts a learner's copies (git-ignored), one folder per stage.
 * VISITME_EXERCISES_DIR moves it (the tests use their own, beside it, so that the copies'
 * `../../tsconfig.base.json` and the root node_modules are found as from a stage folder).
 */
export function exercisesDir(): string {
  return (
    process.env.VISITME_EXERCISES_DIR ??
    fileURLToPath(new URL('../../../../exercises/', import.meta.url))
  );
}

const NOT_THE_LESSON_DIRS = new Set(['dist', 'node_modules', '.turbo', '.deploy']);
const NOT_THE_LESSON_FILES = new Set(['README.md', 'package-lock.json']);

/** The stage folders in stage order (mod1, mod12, mod13: by number, not by name). */
export function stages(modulesDir = MODULES_DIR): string[] {
  return readdirSync(modulesDir, { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && existsSync(join(modulesDir, entry.name, 'package.json')),
    )
    .map((entry) => entry.name)
    .sort((a, b) => stageNumber(a) - stageNumber(b));
}

function stageNumber(name: string): number {
  return Number(/^mod(\d+)/.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);
}

/** `mod12` or `12` or `mod12-memcache` → `mod12-memcache`. */
export function resolveStage(name: string, known = stages()): string {
  const wanted = /^\d+$/.test(name) ? `mod${name}` : name;
  const match = known.find((stage) => stage === wanted || stage.split('-')[0] === wanted);
  if (!match) throw new Error(`No stage "${name}". There are: ${known.join(', ')}`);
  return match;
}

/** The files a learner diffs, by path within the stage folder, as they compare them. */
export function lessonFiles(stage: string, modulesDir = MODULES_DIR): Map<string, string> {
  return folderFiles(join(modulesDir, stage));
}

function folderFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!NOT_THE_LESSON_DIRS.has(entry.name)) walk(path);
      } else if (!NOT_THE_LESSON_FILES.has(entry.name)) {
        files.set(relative(root, path), readFileSync(path, 'utf8'));
      }
    }
  };
  walk(root);
  return files;
}

export interface FileChange {
  path: string;
  added: number;
  removed: number;
  /** The unified diff of this file, `--- a/… +++ b/…` included. */
  patch: string;
}

/**
 * Every file that differs between two stages, with its unified diff: applied to a copy of
 * `from` (`git apply -p1`), it gives `to`, all but the workspace name.
 */
export function stageDiff(from: string, to: string, modulesDir = MODULES_DIR): FileChange[] {
  return folderDiff(
    { label: from, dir: join(modulesDir, from) },
    { label: to, dir: join(modulesDir, to) },
  );
}

/** A folder and the name its files go by in the diff (`exercise` for a learner's copy). */
export interface DiffSide {
  label: string;
  dir: string;
}

/** The same diff between any two folders laid out as stages, such as a learner's copy. */
export function folderDiff(from: DiffSide, to: DiffSide): FileChange[] {
  const [before, after] = [folderFiles(from.dir), folderFiles(to.dir)];
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: FileChange[] = [];
  for (const path of paths) {
    const a = before.get(path);
    const b = path === 'package.json' ? sameWorkspaceName(after.get(path), a) : after.get(path);
    if (a === b) continue;
    const lines = structuredPatch(path, path, a ?? '', b ?? '').hunks.flatMap((hunk) => hunk.lines);
    const patch = createTwoFilesPatch(
      a === undefined ? '/dev/null' : `${from.label}/${path}`,
      b === undefined ? '/dev/null' : `${to.label}/${path}`,
      a ?? '',
      b ?? '',
      undefined,
      undefined,
      { context: 3 },
    ).replace(/^=+\n/, '');
    changes.push({
      path,
      added: lines.filter((line) => line.startsWith('+')).length,
      removed: lines.filter((line) => line.startsWith('-')).length,
      patch,
    });
  }
  return changes;
}

// Each folder names its own workspace, so that line differs between any two stages. Giving
// `to` the name `from` has leaves it out of the diff and keeps every line number true.
function sameWorkspaceName(to: string | undefined, from: string | undefined) {
  const name = /^ {2}"name": ".*",$/m;
  const fromName = from?.match(name)?.[0];
  return fromName === undefined ? to : to?.replace(name, () => fromName);
}
