import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ROOT, countBlocks, readmes, region, syncReadme } from '../src/code-blocks.js';

test('every code block in every README is the code it claims to show', () => {
  const stale = readmes().flatMap((path) => syncReadme(path).stale);
  assert.deepEqual(stale, [], 'run `npm run docs` to rewrite them from the source');
});

test('each module README shows real code', () => {
  for (const path of readmes().filter((path) => path.includes('/modules/'))) {
    assert.ok(countBlocks(path) >= 1, `${relative(ROOT, path)} shows code from source`);
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
