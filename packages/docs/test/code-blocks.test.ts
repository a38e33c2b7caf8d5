import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { stages } from '@visitme/stages';
import {
  ROOT,
  countBlocks,
  diffBlocks,
  lessonCoverage,
  lessonHunks,
  lessonOf,
  readmes,
  region,
  syncReadme,
} from '../src/code-blocks.js';

test('every code block in every README is the code it claims to show', () => {
  const stale = readmes().flatMap((path) => syncReadme(path).stale);
  assert.deepEqual(stale, [], 'run `npm run docs` to rewrite them from the source');
});

test('each module README shows real code', () => {
  for (const path of readmes().filter((path) => path.includes('/modules/'))) {
    assert.ok(countBlocks(path) >= 1, `${relative(ROOT, path)} shows code from source`);
  }
});

test("every hunk of every lesson is shown in its FINISH module's README, and nothing else is", () => {
  const lessons = stages().filter((stage) => stage.start);
  assert.ok(lessons.length >= 1, 'there are lessons to check');
  for (const stage of lessons) {
    const readme = join(stage.dir, 'README.md');
    const { missing, stray } = lessonCoverage(readme);
    assert.deepEqual(
      missing.map(({ path, number }) => `${path} hunk ${number}`),
      [],
      `${relative(ROOT, readme)} shows every hunk of \`npm run diff\` as a \`\`\`diff block ` +
        '(run `npm run docs`: it says which and fills marked blocks)',
    );
    assert.deepEqual(stray, [], `${relative(ROOT, readme)}: every diff block is a current hunk`);
    assert.ok(lessonHunks(...lessonOf(readme)!).length >= 1, `${stage.name} changes something`);
  }
});

test('a block that drifted from its source is caught, and rewritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'readme-'));
  writeFileSync(
    join(dir, 'main.ts'),
    'const a = 1;\n  // [START answer]\n  const answer = 42;\n  // [END answer]\n',
  );
  const readme = join(dir, 'README.md');
  writeFileSync(
    readme,
    'Before\n<!-- code: main.ts#answer -->\n```ts\nconst answer = 41;\n```\nAfter\n',
  );
  const { text, stale } = syncReadme(readme);
  assert.equal(stale.length, 1);
  assert.equal(
    text,
    'Before\n<!-- code: main.ts#answer -->\n\n```ts\nconst answer = 42;\n```\nAfter\n',
  );
});

test('regions drop nested markers and their common indent', () => {
  const source = [
    '  // [START outer]',
    '  if (x) {',
    '    // [START inner]',
    '    y();',
    '    // [END inner]',
    '  }',
    '  // [END outer]',
  ].join('\n');
  assert.equal(region(source, 'outer'), 'if (x) {\n  y();\n}\n');
  assert.throws(() => region(source, 'missing', 'main.ts'), /No region "missing" in main\.ts/);
});

// Two stages whose lesson has two hunks in main.ts, far enough apart not to merge.
function twoStages() {
  const modules = mkdtempSync(join(tmpdir(), 'stages-'));
  const filler = Array.from({ length: 10 }, (_, i) => `const line${i} = ${i};`);
  const files = {
    'mod1-a': ['const first = 1;', ...filler, 'const last = 1;'],
    'mod2-b': ['const first = 2;', ...filler, 'const last = 2;'],
  };
  const visitme = { 'mod1-a': { module: 1 }, 'mod2-b': { module: 2, start: 'mod1-a' } };
  for (const [stage, lines] of Object.entries(files)) {
    mkdirSync(join(modules, stage, 'src'), { recursive: true });
    const manifest = { name: stage, visitme: visitme[stage as keyof typeof visitme] };
    writeFileSync(join(modules, stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    writeFileSync(join(modules, stage, 'src/main.ts'), `${lines.join('\n')}\n`);
  }
  return { modules, readme: join(modules, 'mod2-b', 'README.md') };
}

test('a lesson splits into hunks, each with its file header, as `npm run diff` prints them', () => {
  const { modules, readme } = twoStages();
  assert.deepEqual(lessonOf(readme, modules), ['mod1-a', 'mod2-b']);
  assert.equal(lessonOf(join(modules, 'mod1-a', 'README.md'), modules), null, 'no START');
  const hunks = lessonHunks('mod1-a', 'mod2-b', modules);
  assert.deepEqual(
    hunks.map(({ path, number }) => [path, number]),
    [
      ['src/main.ts', 1],
      ['src/main.ts', 2],
    ],
  );
  assert.equal(
    hunks[0]!.text,
    '--- mod1-a/src/main.ts\n+++ mod2-b/src/main.ts\n@@ -1,4 +1,4 @@\n' +
      '-const first = 1;\n+const first = 2;\n const line0 = 0;\n const line1 = 1;\n const line2 = 2;\n',
  );
  assert.match(hunks[1]!.text, /^--- mod1-a\/src\/main\.ts\n\+\+\+ mod2-b\/src\/main\.ts\n@@ /);
  assert.match(hunks[1]!.text, /\n-const last = 1;\n\+const last = 2;\n$/);
});

test('a README that leaves out a hunk, or shows an edited one, is caught', () => {
  const { modules, readme } = twoStages();
  const [first, second] = lessonHunks('mod1-a', 'mod2-b', modules);
  const fence = (text: string) => '```diff\n' + text + '```\n';

  writeFileSync(readme, `# B\n\n${fence(first!.text)}\nThat is all.\n`);
  let coverage = lessonCoverage(readme, modules);
  assert.deepEqual(
    coverage.missing.map(({ number }) => number),
    [2],
  );
  assert.deepEqual(coverage.stray, []);

  // One changed line (a learner would copy it) is not the hunk.
  const edited = second!.text.replace('const last = 2;', 'const last = 3;');
  writeFileSync(readme, `${fence(first!.text)}\n${fence(edited)}`);
  coverage = lessonCoverage(readme, modules);
  assert.deepEqual(
    coverage.missing.map(({ number }) => number),
    [2],
  );
  assert.deepEqual(coverage.stray, [edited]);

  // The hunk's lines without its header are not the hunk either.
  writeFileSync(
    readme,
    `${fence(first!.text)}\n${fence(second!.text.split('\n').slice(2).join('\n'))}`,
  );
  assert.equal(lessonCoverage(readme, modules).missing.length, 1);

  writeFileSync(readme, `${fence(first!.text)}\n${fence(second!.text)}`);
  assert.deepEqual(lessonCoverage(readme, modules), { missing: [], stray: [] });
  assert.equal(diffBlocks(`${fence(first!.text)}`)[0], first!.text);
});

test('a marked diff block is rewritten from the lesson, and a hunk that does not exist is an error', () => {
  const { modules, readme } = twoStages();
  const [, second] = lessonHunks('mod1-a', 'mod2-b', modules);
  writeFileSync(readme, 'Then:\n\n<!-- diff: src/main.ts#2 -->\n\n```diff\n-old\n```\n');
  const { text, stale } = syncReadme(readme, modules);
  assert.deepEqual(stale, [
    { readme: relative(ROOT, readme), source: 'src/main.ts', region: 'hunk 2' },
  ]);
  assert.equal(
    text,
    `Then:\n\n<!-- diff: src/main.ts#2 -->\n\n\`\`\`diff\n${second!.text}\`\`\`\n`,
  );

  writeFileSync(readme, '<!-- diff: src/main.ts#3 -->\n\n```diff\n```\n');
  assert.throws(
    () => syncReadme(readme, modules),
    /hunk 3 of src\/main\.ts, but mod1-a → mod2-b has 2/,
  );
});
