// What a learner sees between two stage folders: the lesson, and nothing that is not the
// lesson (build output, lockfiles, each folder's workspace name, the READMEs).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createTwoFilesPatch, structuredPatch } from 'diff';
import { MODULES_DIR } from '@visitme/stages';

const NOT_THE_LESSON_DIRS = new Set(['dist', 'node_modules', '.turbo', '.deploy']);
const NOT_THE_LESSON_FILES = new Set(['README.md', 'package-lock.json']);

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
    const b = path === 'package.json' ? sameIdentity(after.get(path), a) : after.get(path);
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

// Each folder says who it is in its package.json: its workspace name and, last, its `visitme`
// field (module number, START, README sections). Giving `to` the lines `from` has leaves them
// out of the diff, and keeps every line number true (the field is last, so nothing follows it).
const IDENTITY = [/^ {2}"name": ".*",$/m, /^ {2}"visitme": \{\n[\s\S]*?^ {2}\}$/m];

function sameIdentity(to: string | undefined, from: string | undefined) {
  if (to === undefined || from === undefined) return to;
  return IDENTITY.reduce((text, pattern) => {
    const fromLines = pattern.exec(from)?.[0];
    return fromLines === undefined ? text : text.replace(pattern, () => fromLines);
  }, to);
}
