// A README shows real code by naming where it comes from, just above the block:
//
//   <!-- code: src/main.ts#root -->
//   ```ts
//   …the lines between `// [START root]` and `// [END root]` in src/main.ts…
//   ```
//
// (the path relative to the README). A stage's README shows its lesson, hunk by hunk, the
// same way:
//
//   <!-- diff: src/main.ts#2 -->
//   ```diff
//   …the `---`/`+++` lines of src/main.ts in `npm run diff` from the previous stage, then
//   its second hunk…
//   ```
//
// `npm run docs` rewrites every such block from its source; the tests fail when one no
// longer matches, or when a hunk of a lesson is shown nowhere, so no README can drift from
// the code.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { stageDiff } from '@visitme/stage-diff';
import { MODULES_DIR, ROOT, readStage } from '@visitme/stages';

export { ROOT };

// A blank line may stand between the comment and the fence (Prettier puts one there).
const BLOCK = /<!-- code: ([^#\s]+)#([\w-]+) -->\n\n?```(\w*)\n([\s\S]*?)```/g;
const DIFF_BLOCK = /<!-- diff: ([^#\s]+)#(\d+) -->\n\n?```diff\n([\s\S]*?)```/g;
// Every ```diff fence, whether or not a marker names its hunk.
const DIFF_FENCE = /^```diff\n([\s\S]*?)^```$/gm;
// `// [START x]` in TypeScript, `# [START x]` in YAML.
const MARKER = /^\s*(\/\/|#) \[(START|END) [\w-]+\]\s*$/;

/** The lines of region `name` in `source`, without markers, with their common indent removed. */
export function region(source: string, name: string, where = 'the source'): string {
  const lines = source.split('\n');
  const isMarker = (line: string, kind: string) =>
    MARKER.test(line) && line.includes(`[${kind} ${name}]`);
  const start = lines.findIndex((line) => isMarker(line, 'START'));
  const end = lines.findIndex((line, index) => index > start && isMarker(line, 'END'));
  if (start < 0 || end < 0) throw new Error(`No region "${name}" in ${where}`);
  const body = lines.slice(start + 1, end).filter((line) => !MARKER.test(line));
  const indent = Math.min(
    ...body.filter((line) => line.trim()).map((line) => /^ */.exec(line)![0].length),
  );
  return body.map((line) => line.slice(indent)).join('\n') + '\n';
}

/** One hunk of a lesson, as a README shows it. */
export interface Hunk {
  /** The file, within the stage folder. */
  path: string;
  /** Which hunk of that file's diff, from 1. */
  number: number;
  /**
   * The file's `---` and `+++` lines as `npm run diff` prints them, then the hunk, each line
   * without trailing whitespace: Markdown formatters strip it (a blank context line is one
   * space in a patch), and the code itself has none.
   */
  text: string;
}

/** Every hunk `npm run diff -- FROM TO` prints, each with its file's header. */
export function lessonHunks(from: string, to: string, modulesDir = MODULES_DIR): Hunk[] {
  return stageDiff(from, to, modulesDir).flatMap(({ path, patch }) => {
    const [header = '', ...hunks] = patch.split(/^(?=@@ )/m);
    return hunks.map((hunk, index) => ({
      path,
      number: index + 1,
      text: `${header}${hunk}`.replace(/[ \t]+$/gm, '').replace(/\n*$/, '\n'),
    }));
  });
}

/** `[START, FINISH]` when `readmePath` is the README of a stage that starts from another. */
export function lessonOf(readmePath: string, modulesDir = MODULES_DIR): [string, string] | null {
  const folder = dirname(resolve(readmePath));
  if (resolve(dirname(folder)) !== resolve(modulesDir)) return null;
  const stage = readStage(folder);
  return stage?.start ? [stage.start, stage.name] : null;
}

/** The contents of every ```diff block in a README. */
export function diffBlocks(markdown: string): string[] {
  return [...markdown.matchAll(DIFF_FENCE)].map((match) => match[1]!);
}

export interface LessonCoverage {
  /** Hunks of the lesson that no ```diff block in the README shows exactly. */
  missing: Hunk[];
  /** ```diff blocks that are no hunk of the lesson (stale, or edited by hand). */
  stray: string[];
}

/**
 * Which hunks of its stage's lesson a README leaves out. A hunk counts as shown when a
 * ```diff block's content is exactly its text: the file's `---`/`+++` lines, the `@@` line,
 * and every line of the hunk, byte for byte but for trailing whitespace.
 */
export function lessonCoverage(readmePath: string, modulesDir = MODULES_DIR): LessonCoverage {
  const lesson = lessonOf(readmePath, modulesDir);
  const shown = diffBlocks(readFileSync(readmePath, 'utf8'));
  if (!lesson) return { missing: [], stray: shown };
  const hunks = lessonHunks(...lesson, modulesDir);
  const texts = new Set(hunks.map((hunk) => hunk.text));
  return {
    missing: hunks.filter((hunk) => !shown.includes(hunk.text)),
    stray: shown.filter((block) => !texts.has(block)),
  };
}

export interface StaleBlock {
  readme: string;
  source: string;
  region: string;
}

/** The README with every code block as its source has it now, and which blocks were stale. */
export function syncReadme(
  readmePath: string,
  modulesDir = MODULES_DIR,
): { text: string; stale: StaleBlock[] } {
  const text = readFileSync(readmePath, 'utf8');
  const stale: StaleBlock[] = [];
  const where = relative(ROOT, readmePath);
  const withCode = text.replace(
    BLOCK,
    (block, path: string, name: string, lang: string, shown: string) => {
      const sourcePath = resolve(dirname(readmePath), path);
      if (!existsSync(sourcePath)) throw new Error(`${where} shows ${path}, which does not exist`);
      const code = region(readFileSync(sourcePath, 'utf8'), name, path);
      if (code === shown) return block;
      stale.push({ readme: where, source: path, region: name });
      return `<!-- code: ${path}#${name} -->\n\n\`\`\`${lang}\n${code}\`\`\``;
    },
  );
  let hunks: Hunk[] | undefined;
  const synced = withCode.replace(DIFF_BLOCK, (block, path: string, number: string, shown) => {
    const lesson = lessonOf(readmePath, modulesDir);
    if (!lesson) throw new Error(`${where} shows a diff, but is no stage's README`);
    hunks ??= lessonHunks(...lesson, modulesDir);
    const hunk = hunks.find((h) => h.path === path && h.number === Number(number));
    if (!hunk) {
      throw new Error(
        `${where} shows hunk ${number} of ${path}, but ${lesson.join(' → ')} has ` +
          `${hunks.filter((h) => h.path === path).length} hunks in that file: ` +
          'remove its block, or show a hunk `npm run diff` shows',
      );
    }
    if (hunk.text === shown) return block;
    stale.push({ readme: where, source: path, region: `hunk ${number}` });
    return `<!-- diff: ${path}#${number} -->\n\n\`\`\`diff\n${hunk.text}\`\`\``;
  });
  return { text: synced, stale };
}

/** How many blocks a README shows from source (regions and diff hunks). */
export function countBlocks(readmePath: string): number {
  const text = readFileSync(readmePath, 'utf8');
  return [...text.matchAll(BLOCK)].length + [...text.matchAll(DIFF_BLOCK)].length;
}

/** The repository's READMEs: the root one and each module's. */
export function readmes(modulesDir = MODULES_DIR): string[] {
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(modulesDir)
      .map((name) => join(modulesDir, name, 'README.md'))
      .filter((path) => existsSync(path)),
  ];
}

/** Rewrites every stale block; returns what it rewrote. */
export function syncAll(): StaleBlock[] {
  return readmes().flatMap((path) => {
    const { text, stale } = syncReadme(path);
    if (stale.length > 0) writeFileSync(path, text);
    return stale;
  });
}
