// The Node.js the servers run on: this one by default, or App Engine's runtimes by major
// version (`--node=22,24`), from scripts/node-bin, as CI gets them: the official builds from
// the npm registry, kept in ~/.cache/visitme/node-<major>/ so only the first run downloads.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '@visitme/stages';

export interface Runtime {
  /** What the user asked for: `22`, a path, or empty for the bench's own Node.js. */
  label: string;
  path: string;
  /** `v22.23.3`. */
  version: string;
}

/** `22,24`, `/path/to/node` or nothing (this Node.js). */
export function resolveRuntimes(spec: string | undefined): Runtime[] {
  const items = spec
    ? spec
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : [''];
  return items.map((item) => {
    const path = !item ? process.execPath : /^\d+$/.test(item) ? nodeOf(item) : item;
    let version: string;
    try {
      version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    } catch (error) {
      throw new Error(`Cannot run Node.js at ${path}: ${(error as Error).message}`);
    }
    return { label: item, path, version };
  });
}

/** The official Node.js `major` binary, fetched once (it says so) by scripts/node-bin. */
function nodeOf(major: string): string {
  const bin = execFileSync(join(ROOT, 'scripts', 'node-bin'), [major], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(bin, 'node');
}
