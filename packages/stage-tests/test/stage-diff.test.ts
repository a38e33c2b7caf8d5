// Diffs are the product: a learner runs `diff -r` between two stage folders and should see
// the codelab's lesson and nothing else. These pins fail when anything else creeps in
// (shared code copied into a stage, reformatting, a renamed variable, a stray edit).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { structuredPatch } from 'diff';

const MODULES = fileURLToPath(new URL('../../../../modules/', import.meta.url));
const NOT_SOURCE = new Set(['dist', 'node_modules', '.turbo', '.deploy']);

/** Every file of a stage folder that a learner diffs (build output left out). */
function stageFiles(stage: string): Map<string, string> {
  const root = join(MODULES, stage);
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (NOT_SOURCE.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path, 'utf8'));
    }
  };
  walk(root);
  return files;
}

/** Per differing file: how many lines were added and removed. */
function stageDiff(from: string, to: string): Record<string, { added: number; removed: number }> {
  const [before, after] = [stageFiles(from), stageFiles(to)];
  const result: Record<string, { added: number; removed: number }> = {};
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    const patch = structuredPatch(path, path, before.get(path) ?? '', after.get(path) ?? '');
    const lines = patch.hunks.flatMap((hunk) => hunk.lines);
    const added = lines.filter((line) => line.startsWith('+')).length;
    const removed = lines.filter((line) => line.startsWith('-')).length;
    if (added + removed > 0) result[path] = { added, removed };
  }
  return result;
}

test('Module 1 → 12: the cache import, HOUR, the handler, and the node-cache dependency', () => {
  const diff = stageDiff('mod1-baseline', 'mod12-memcache');
  assert.deepEqual(Object.keys(diff).sort(), ['README.md', 'package.json', 'src/main.ts']);
  // The workspace name, and the dependency.
  assert.deepEqual(diff['package.json'], { added: 2, removed: 1 });
  assert.deepEqual(diff['src/main.ts'], { added: 23, removed: 4 });
  const main = readFileSync(join(MODULES, 'mod12-memcache/src/main.ts'), 'utf8');
  for (const line of [
    "import NodeCache from 'node-cache';",
    'const HOUR = 3600;',
    "    let visits = cache.get<Visit[]>('visits');",
    '    if (!visits || visits[0]?.visitor !== visitor) {',
    "      cache.set('visits', visits, HOUR); // set() not add()",
  ]) {
    assert.ok(main.includes(`${line}\n`), `mod12-memcache/src/main.ts has: ${line}`);
  }
});

test("Module 12 → 13: the client swap, its settings, and app.yaml's additions", () => {
  const diff = stageDiff('mod12-memcache', 'mod13-redis');
  assert.deepEqual(Object.keys(diff).sort(), [
    'README.md',
    'app.yaml',
    'package.json',
    'src/cache.ts',
    'src/main.ts',
  ]);
  assert.deepEqual(diff['package.json'], { added: 2, removed: 2 });
  assert.deepEqual(diff['app.yaml'], { added: 11, removed: 0 });
  assert.deepEqual(diff['src/main.ts'], { added: 8, removed: 11 });
  assert.equal(diff['src/cache.ts']?.removed, 0, 'a new file');
  const appYaml = readFileSync(join(MODULES, 'mod13-redis/app.yaml'), 'utf8');
  assert.match(appYaml, /^env_variables:\n  REDIS_HOST: .+\n  REDIS_PORT: .+$/m);
  assert.match(
    appYaml,
    /^vpc_access_connector:\n  name: projects\/PROJECT_ID\/locations\/REGION\/connectors\/CONNECTOR$/m,
  );
});

test('what no lesson touches is byte-identical in every stage', () => {
  const stages = ['mod1-baseline', 'mod12-memcache', 'mod13-redis'].map(stageFiles);
  for (const path of ['src/server.ts', 'tsconfig.json']) {
    const [first, ...rest] = stages.map((files) => files.get(path));
    assert.ok(first, path);
    for (const other of rest) assert.equal(other, first, path);
  }
});
