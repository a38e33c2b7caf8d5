// The repository as a whole: its licence, each workspace's manifest against what its code
// imports, the test command that always runs whole, and CI's closing line.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

function filesUnder(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(suffix))
    .map((name) => join(dir, name));
}

/** Every workspace folder, from the root's `workspaces` globs (`packages/*`, `modules/*`). */
function workspaces(): string[] {
  return (rootManifest.workspaces as string[]).flatMap((pattern) => {
    const parent = join(ROOT, pattern.replace(/\/\*$/, ''));
    return readdirSync(parent)
      .map((name) => join(parent, name))
      .filter((dir) => existsSync(join(dir, 'package.json')));
  });
}

/**
 * The registry and workspace packages `files` import at run time. esbuild drops what
 * TypeScript erases (`import type`, imports used only as types), as tsc does.
 */
async function runtimeImports(files: string[]): Promise<Set<string>> {
  if (files.length === 0) return new Set();
  const result = await build({
    entryPoints: files,
    bundle: true,
    write: false,
    outdir: '/nowhere',
    platform: 'node',
    format: 'esm',
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'packages-stay-imports',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, ({ path }) => ({ path, external: true }));
        },
      },
    ],
  });
  return new Set(
    Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((entry) => entry.external && !entry.path.startsWith('node:'))
      .map(({ path }) => {
        const parts = path.split('/');
        return path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      }),
  );
}

test('LICENSE is the Apache License 2.0, and NOTICE credits Google’s original sample', () => {
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(license, /^\s+Apache License\s+Version 2\.0, January 2004/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
  assert.match(license, /APPENDIX: How to apply the Apache License to your work\./);
  assert.equal(rootManifest.license, 'Apache-2.0');
  const notice = readFileSync(join(ROOT, 'NOTICE'), 'utf8');
  assert.match(notice, /github\.com\/googlecodelabs\/migrate-python2-appengine/);
  assert.match(notice, /Copyright Google LLC/);
  assert.match(notice, /Apache License, Version 2\.0/);
});

test('each workspace lists what its code imports at run time under dependencies', async () => {
  const problems: string[] = [];
  const checked: string[] = [];
  for (const dir of workspaces()) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const where = relative(ROOT, dir);
    const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));
    const devDependencies = new Set(Object.keys(manifest.devDependencies ?? {}));
    const fromSource = await runtimeImports(
      filesUnder(join(dir, 'src'), '.ts').filter((file) => !file.endsWith('.d.ts')),
    );
    // Templates are loaded by their engine at run time: the folder that ships them needs it.
    if (filesUnder(join(dir, 'views'), '.pug').length > 0) fromSource.add('pug');
    for (const name of fromSource) {
      if (name === manifest.name) continue;
      if (!dependencies.has(name)) problems.push(`${where}: ${name} is not in dependencies`);
    }
    for (const name of await runtimeImports(filesUnder(join(dir, 'test'), '.ts'))) {
      if (name === manifest.name) continue;
      if (!dependencies.has(name) && !devDependencies.has(name)) {
        problems.push(`${where}: its tests import ${name}, which is in neither dependencies list`);
      }
    }
    checked.push(where);
  }
  assert.ok(
    checked.includes('packages/shared') && checked.includes('modules/mod13-redis'),
    checked.join(', '),
  );
  assert.deepEqual(problems, []);
});

test('npm test runs every workspace’s tests when one fails, and fails itself', (t) => {
  // A two-workspace repository with the root's own test script and turbo.json, whose first
  // workspace's tests fail.
  const dir = mkdtempSync(join(tmpdir(), 'continue-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, value: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(value, null, 2) + '\n');
  };
  write('package.json', {
    name: 'fixture',
    private: true,
    packageManager: rootManifest.packageManager,
    workspaces: ['packages/*'],
    scripts: { test: rootManifest.scripts.test },
  });
  for (const file of ['turbo.json', '.prettierrc.json', 'scripts']) {
    cpSync(join(ROOT, file), join(dir, file), { recursive: true });
  }
  write('packages/a/package.json', {
    name: 'a',
    version: '1.0.0',
    scripts: { build: 'true', test: 'echo tests-of-a-ran; exit 1' },
  });
  write('packages/b/package.json', {
    name: 'b',
    version: '1.0.0',
    scripts: { build: 'true', test: 'echo tests-of-b-ran' },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // turbo and prettier
  const run = spawnSync('npm', ['test'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  const output = run.stdout + run.stderr;
  assert.match(output, /tests-of-a-ran/);
  assert.match(output, /tests-of-b-ran/, output);
  assert.notEqual(run.status, 0, output);
  // Its last line adds it up: no runner printed totals, and the run failed.
  assert.match(output, /\n0 passed, 1 failed, 0 skipped\n$/, output);
});

test('the closing line adds up every run, and counts a run that failed outside any test', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-'));
  try {
    const log = (name: string, lines: string[]) => {
      writeFileSync(join(dir, name), lines.join('\n') + '\n');
      return join(dir, name);
    };
    const node22 = log('22', [
      '@visitme/shared:test: ℹ pass 12',
      '@visitme/shared:test: ℹ fail 0',
      '@visitme/shared:test: ℹ skipped 1',
      '\u001b[34m@visitme/stage-tests:test: ℹ pass 80\u001b[39m', // in colour, on a terminal
      '@visitme/stage-tests:test: ℹ fail 2',
      'exit status 1',
    ]);
    const node24 = log('24', ['ℹ pass 92', 'ℹ fail 0', 'exit status 0']);
    const unformatted = log('24-unformatted', [
      'Checking formatting...',
      '[warn] README.md',
      'exit status 1',
    ]);
    const tally = (...logs: string[]) =>
      execFileSync(join(ROOT, 'scripts', 'tally'), logs, { encoding: 'utf8' });
    // CI's two runs, Node.js 22 and 24: failed tests in one, the format check in the other.
    assert.equal(tally(node22, unformatted), '92 passed, 3 failed, 1 skipped\n');
    assert.equal(tally(node22, node24), '184 passed, 2 failed, 1 skipped\n');
    assert.equal(tally(node24), '92 passed, 0 failed, 0 skipped\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
