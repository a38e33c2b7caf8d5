// The root README's plain `diff` between two stage folders shows exactly what `npm run diff`
// shows, whatever has been built: run as written, after a build has left its output (dist/,
// turbo's .turbo/ logs) in the stage folders.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stageDiff } from '@visitme/stage-diff';
import { startOf, stages } from '@visitme/stages';
import { ROOT } from '../src/code-blocks.js';
import { shellBlocks } from '../src/gcloud-commands.js';

/** Each file's hunks, from the first `@@` line on, without trailing whitespace. */
type Hunks = Map<string, string>;

// A range of one line is written `-3` by diff and `-3,1` by npm run diff: both mean the same.
const trimmed = (text: string) =>
  text
    .replace(/^@@ .* @@/gm, (header) => header.replace(/,1(?= )/g, ''))
    .replace(/[ \t]+$/gm, '')
    .replace(/\n*$/, '\n');

/** What `diff -ru A B` printed, by path within the folders ("only in A/B" for a lone file). */
function hunksOfDiffR(output: string, from: string, to: string): Hunks {
  const files: Hunks = new Map();
  for (const part of output.split(/^(?=diff -r|Only in )/m).filter(Boolean)) {
    const only = /^Only in (\S+?)\/?: (.+)$/m.exec(part);
    if (only) {
      const side = only[1]!.startsWith(from) ? 'from' : 'to';
      const dir = only[1]!.slice((side === 'from' ? from : to).length).replace(/^\//, '');
      files.set(join(dir, only[2]!), `only in ${side}\n`);
      continue;
    }
    const path = /^\+\+\+ (\S+)/m.exec(part)![1]!.slice(to.length + 1);
    files.set(path, trimmed(part.slice(part.indexOf('\n@@') + 1)));
  }
  return files;
}

/** The same for `npm run diff -- FROM TO` (the stage-diff package prints these patches). */
function hunksOfLesson(from: string, to: string): Hunks {
  return new Map(
    stageDiff(from, to).map(({ path, patch }) => {
      if (patch.includes('--- /dev/null')) return [path, 'only in to\n'];
      if (patch.includes('+++ /dev/null')) return [path, 'only in from\n'];
      return [path, trimmed(patch.slice(patch.indexOf('\n@@') + 1))];
    }),
  );
}

test("the README's plain diff of two stage folders shows the lesson and nothing else, after a build", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [block, ...more] = shellBlocks(readme).filter(({ text }) => /^diff -r/m.test(text));
  assert.ok(block && more.length === 0, 'the README shows one plain diff command');
  const command = block.text.trim();
  const FOLDERS = /modules\/[\w-]+ modules\/[\w-]+$/;
  assert.match(command, FOLDERS, 'it names two stage folders last');

  // A build leaves its output in every stage folder; the command must see past it.
  execFileSync(join(ROOT, 'scripts', 'build-quietly'), ['--filter=./modules/*'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
      TURBO_TELEMETRY_DISABLED: '1',
    },
  });
  const all = stages();
  for (const stage of all) {
    for (const built of ['dist', '.turbo']) {
      assert.ok(existsSync(join(stage.dir, built)), `${stage.name}/${built} after a build`);
    }
  }

  // As written, then the same command for every other lesson (a stage against its START).
  const pairs = all.flatMap((stage) => {
    const start = startOf(stage, all);
    return start ? [[start.name, stage.name] as const] : [];
  });
  assert.ok(pairs.length >= 2, 'there are lessons to diff');
  for (const [from, to] of pairs) {
    const run = command.replace(FOLDERS, `modules/${from} modules/${to}`);
    const diffed = spawnSync('bash', ['-c', run], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(diffed.status, 1, `${run}: exit 1, the folders differ\n${diffed.stderr}`);
    assert.deepEqual(
      hunksOfDiffR(diffed.stdout, `modules/${from}`, `modules/${to}`),
      hunksOfLesson(from, to),
      `${run}\nshows what npm run diff -- ${from} ${to} shows`,
    );
  }
});
