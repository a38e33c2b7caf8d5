import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findStage, readmeName, startOf, stages } from '../src/stages.js';

/** A modules/ folder of its own: each entry a folder with this package.json. */
function modulesWith(manifests: Record<string, object>) {
  const dir = mkdtempSync(join(tmpdir(), 'modules-'));
  for (const [folder, manifest] of Object.entries(manifests)) {
    mkdirSync(join(dir, folder));
    writeFileSync(join(dir, folder, 'package.json'), JSON.stringify(manifest));
  }
  return dir;
}

test('a stage is a folder whose package.json says which module it is; they come in module order', (t) => {
  const dir = modulesWith({
    'mod14-later': {
      name: 'mod14-later',
      dependencies: { ioredis: '^6' },
      visitme: { module: 14, start: 'mod2-b' },
    },
    'mod2-b': { name: 'mod2-b', dependencies: { 'node-cache': '^5' }, visitme: { module: 2 } },
    'mod1-a': { name: 'mod1-a', visitme: { module: 1 } },
    'not-a-stage': { name: 'tooling' },
  });
  mkdirSync(join(dir, 'no-manifest'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const all = stages(dir);
  assert.deepEqual(
    all.map(({ name, module, cache }) => [name, module, cache]),
    [
      ['mod1-a', 1, undefined],
      ['mod2-b', 2, 'node-cache'],
      ['mod14-later', 14, 'redis'],
    ],
  );
  const later = all[2]!;
  assert.equal(later.dir, join(dir, 'mod14-later'));
  assert.equal(later.server, join(dir, 'mod14-later', 'dist', 'src', 'server.js'));
  assert.equal(startOf(later, all)?.name, 'mod2-b');
  assert.equal(startOf(all[0]!, all), undefined);
  assert.equal(readmeName(later), 'Module 14 README');
});

test('a stage by its folder name, its short name or its number; an unknown one names them all', () => {
  const dir = modulesWith({
    'mod12-memcache': { name: 'mod12-memcache', visitme: { module: 12 } },
    'mod1-baseline': { name: 'mod1-baseline', visitme: { module: 1 } },
  });
  const all = stages(dir);
  for (const name of ['mod12-memcache', 'mod12', '12']) {
    assert.equal(findStage(name, all).name, 'mod12-memcache', name);
  }
  assert.equal(findStage('1', all).name, 'mod1-baseline', 'not mod12 for 1');
  assert.throws(
    () => findStage('mod2', all),
    /^Error: No stage "mod2"\. There are: mod1-baseline, mod12-memcache$/,
  );
  rmSync(dir, { recursive: true, force: true });
});

test('a visitme field without a module number is refused, naming the file', () => {
  const dir = modulesWith({ 'mod3-x': { name: 'mod3-x', visitme: { start: 'mod1-baseline' } } });
  assert.throws(() => stages(dir), /mod3-x\/package\.json: "visitme\.module" must be/);
  rmSync(dir, { recursive: true, force: true });
});
