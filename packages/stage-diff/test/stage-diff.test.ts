// Diffs are the product: a learner diffs two stage folders and should see the codelab's
// lesson and nothing else. These pins fail when anything else creeps in (shared code
// copied into a stage, reformatting, a renamed variable, a stray edit). When a lesson
// really changes, change its pin with it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { MODULES_DIR, findStage, stages } from '@visitme/stages';
import { lessonFiles, stageDiff } from '../src/stage-diff.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const lines = (from: string, to: string) =>
  Object.fromEntries(
    stageDiff(from, to).map(({ path, added, removed }) => [path, { added, removed }]),
  );

test('the stages, in stage order, by full or short name', () => {
  assert.deepEqual(
    stages().map(({ name }) => name),
    ['mod1-baseline', 'mod12-memcache', 'mod13-redis'],
  );
  assert.equal(findStage('mod12').name, 'mod12-memcache');
  assert.equal(findStage('13').name, 'mod13-redis');
  assert.equal(findStage('mod1-baseline').name, 'mod1-baseline');
  assert.throws(() => findStage('mod2'), /No stage "mod2"\. There are: mod1-baseline, /);
});

/** Insertions plus deletions over every file of a lesson: what a learner reads. */
const total = (diff: Record<string, { added: number; removed: number }>) =>
  Object.values(diff).reduce((sum, { added, removed }) => sum + added + removed, 0);

test('Module 1 → 12: the cache import, HOUR, the handler, and the node-cache dependency', () => {
  const diff = lines('mod1-baseline', 'mod12-memcache');
  assert.deepEqual(diff, {
    'package.json': { added: 1, removed: 0 },
    'src/main.ts': { added: 19, removed: 4 },
  });
  assert.ok(total(diff) <= 30, `at most 30 changed lines; ${total(diff)}`);
  const main = readFileSync(join(MODULES_DIR, 'mod12-memcache/src/main.ts'), 'utf8');
  for (const line of [
    "import NodeCache from 'node-cache';",
    'const HOUR = 3600;',
    "    let visits = cache.get<readonly Visit[]>('visits');",
    '    if (!visits || visits[0]?.visitor !== visitor) {',
    "      cache.set('visits', visits, HOUR); // set() not add()",
    "    } else res.set('Server-Timing', 'cache;desc=hit');",
  ]) {
    assert.ok(main.includes(`${line}\n`), `mod12-memcache/src/main.ts has: ${line}`);
  }
  // The lists are frozen, so node-cache need not copy them on every get (its default).
  assert.match(main, /cache = new NodeCache\(\{ useClones: false \}\)/);
});

test("Module 12 → 13: the Redis client and its settings, the handler's Redis calls, app.yaml", () => {
  const diff = lines('mod12-memcache', 'mod13-redis');
  assert.deepEqual(diff, {
    'app.yaml': { added: 13, removed: 0 },
    'package.json': { added: 1, removed: 1 },
    'src/main.ts': { added: 30, removed: 7 },
  });
  assert.ok(total(diff) <= 55, `at most 55 changed lines; ${total(diff)}`);
  const main = readFileSync(join(MODULES_DIR, 'mod13-redis/src/main.ts'), 'utf8');
  const root = main.slice(main.indexOf('// [START root]'), main.indexOf('// [END root]'));
  for (const line of [
    "    const rsp = await failOpen('GET', redis.get('visits'));",
    '    let visits = rsp ? loadVisits(rsp) : undefined;',
    '    if (!visits || visits[0]?.visitor !== visitor) {',
    "      await failOpen('SET', redis.set('visits', dumpVisits(visits), 'EX', HOUR)); // set() not add()",
    "    } else res.set('Server-Timing', 'cache;desc=hit');",
  ]) {
    assert.ok(root.includes(`${line}\n`), `root() in mod13-redis/src/main.ts has: ${line}`);
  }
  for (const setting of [
    'enableOfflineQueue: false,',
    'maxRetriesPerRequest: 0,',
    'commandTimeout: 250,',
  ]) {
    assert.ok(main.includes(setting), `the client fails fast: ${setting}`);
  }
  const appYaml = readFileSync(join(MODULES_DIR, 'mod13-redis/app.yaml'), 'utf8');
  assert.match(appYaml, /^env_variables:\n  REDIS_HOST: .+\n  REDIS_PORT: .+$/m);
  assert.match(
    appYaml,
    /^vpc_access_connector:\n  name: projects\/PROJECT_ID\/locations\/REGION\/connectors\/CONNECTOR$/m,
  );
});

test('what no lesson touches is byte-identical in every stage', () => {
  const files = stages().map((stage) => lessonFiles(stage.name));
  for (const path of ['src/server.ts', 'tsconfig.json']) {
    const [first, ...rest] = files.map((stageFiles) => stageFiles.get(path));
    assert.ok(first, path);
    for (const other of rest) assert.equal(other, first, path);
  }
});

test('npm run diff prints unified diffs, plain when not on a terminal', () => {
  const output = execFileSync(process.execPath, [CLI, 'mod1', 'mod12'], { encoding: 'utf8' });
  assert.match(output, /^### mod1-baseline → mod12-memcache$/m);
  assert.match(output, /^--- mod1-baseline\/src\/main\.ts\n\+\+\+ mod12-memcache\/src\/main\.ts$/m);
  assert.match(output, /^\+import NodeCache from 'node-cache';$/m);
  assert.doesNotMatch(output, /\u001b\[/, 'no colour codes in a pipe');
  assert.doesNotMatch(
    output,
    /README|"name"|"visitme"|"module"/,
    'READMEs and what each folder says of itself are not the lesson',
  );
});

test('the printed diff is the whole lesson: applied to a copy of a stage, it gives the next', () => {
  for (const { name: to, start: from } of stages()) {
    if (!from) continue;
    const copy = mkdtempSync(join(tmpdir(), `${from}-`));
    try {
      for (const path of lessonFiles(from).keys()) {
        mkdirSync(dirname(join(copy, path)), { recursive: true });
        copyFileSync(join(MODULES_DIR, from, path), join(copy, path));
      }
      const patch = execFileSync(process.execPath, [CLI, from, to], { encoding: 'utf8' });
      const applied = spawnSync('git', ['apply', '-p1', '--verbose', '-'], {
        cwd: copy,
        input: patch,
        encoding: 'utf8',
      });
      assert.equal(applied.status, 0, applied.stderr);
      assert.doesNotMatch(applied.stderr, /offset|fuzz/, 'every hunk at the line it names');
      const expected = lessonFiles(to);
      const actual = lessonFiles(basename(copy), tmpdir());
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${from} → ${to}`);
      // All but who the folder is: its workspace name and its `visitme` field.
      const identity = /^ {2}"name": ".*",$|^ {2}"visitme": \{\n[\s\S]*?^ {2}\}$/gm;
      for (const [path, text] of expected) {
        assert.equal(
          actual.get(path)?.replace(identity, ''),
          text.replace(identity, ''),
          `${from} → ${to}: ${path}`,
        );
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
});

test('npm run diff --stat summarises every consecutive pair', () => {
  const output = execFileSync(process.execPath, [CLI, '--stat'], { encoding: 'utf8' });
  assert.match(
    output,
    /### mod1-baseline → mod12-memcache\n\n package\.json \| +1 \+\n src\/main\.ts {2}\| +23 \++-+\n 2 files changed, 20 insertions\(\+\), 4 deletions\(-\)/,
  );
  assert.match(
    output,
    /### mod12-memcache → mod13-redis\n\n app\.yaml {5}\| +13 \++\n package\.json \| +2 \+-\n src\/main\.ts {2}\| +37 \++-+\n 3 files changed, 44 insertions\(\+\), 8 deletions\(-\)/,
  );
});

test('an unknown stage is refused with the list of stages', () => {
  assert.throws(
    () =>
      execFileSync(process.execPath, [CLI, 'mod1', 'mod99'], { encoding: 'utf8', stdio: 'pipe' }),
    (error: { status: number; stderr: string }) =>
      error.status === 2 && /No stage "mod99"/.test(error.stderr),
  );
});
