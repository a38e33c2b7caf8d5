// A README shows real code by naming where it comes from, just above the block:
//
//   <!-- code: src/main.ts#root -->
//   ```ts
//   …the lines between `// [START root]` and `// [END root]` in src/main.ts…
//   ```
//
// (the path relative to the README). `npm run docs` rewrites every such block from its
// source; the tests fail when one no longer matches, so no README can drift from the code.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

// A blank line may stand between the comment and the fence (Prettier puts one there).
const BLOCK = /<!-- code: ([^#\s]+)#([\w-]+) -->\n\n?```(\w*)\n([\s\S]*?)```/g;
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

export interface StaleBlock {
  readme: string;
  source: string;
  region: string;
}

/** The README with every code block as its source has it now, and which blocks were stale. */
export function syncReadme(readmePath: string): { text: string; stale: StaleBlock[] } {
  const text = readFileSync(readmePath, 'utf8');
  const stale: StaleBlock[] = [];
  const synced = text.replace(
    BLOCK,
    (block, path: string, name: string, lang: string, shown: string) => {
      const sourcePath = resolve(dirname(readmePath), path);
      if (!existsSync(sourcePath))
        throw new Error(`${readmePath} shows ${path}, which does not exist`);
      const code = region(readFileSync(sourcePath, 'utf8'), name, path);
      if (code === shown) return block;
      stale.push({ readme: relative(ROOT, readmePath), source: path, region: name });
      return `<!-- code: ${path}#${name} -->\n\n\`\`\`${lang}\n${code}\`\`\``;
    },
  );
  return { text: synced, stale };
}

/** How many blocks a README shows from source. */
export function countBlocks(readmePath: string): number {
  return [...readFileSync(readmePath, 'utf8').matchAll(BLOCK)].length;
}

/** The repository's READMEs: the root one and each module's. */
export function readmes(): string[] {
  const modules = join(ROOT, 'modules');
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(modules)
      .map((name) => join(modules, name, 'README.md'))
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
