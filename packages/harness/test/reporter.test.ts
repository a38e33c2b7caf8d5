// The test reporter every workspace uses: a test file's own output is shown only when a test
// in it fails. Run for real, on a small test file, by Node's test runner.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const REPORTER = fileURLToPath(new URL('../src/reporter.js', import.meta.url));

function runTests(failing: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'reporter-'));
  try {
    const file = join(dir, 'noisy.test.mjs');
    writeFileSync(
      file,
      [
        "import { test } from 'node:test';",
        "test('passes, printing', () => { console.error('EXPECTED-ERROR-LOG'); console.log('A-LOG-LINE'); });",
        `test('${failing ? 'fails' : 'passes too'}', () => { if (${failing}) throw new Error('THE-FAILURE'); });`,
      ].join('\n'),
    );
    // Without the variable that tells a runner it runs inside another one's test file.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    // By a relative path, as the workspaces' test scripts name their files.
    const run = spawnSync(
      process.execPath,
      ['--test', `--test-reporter=${REPORTER}`, relative(dir, file)],
      { cwd: dir, encoding: 'utf8', env },
    );
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('when every test passes, what the file printed stays out of the output', () => {
  const { status, output } = runTests(false);
  assert.equal(status, 0, output);
  assert.match(output, /✔ passes, printing/);
  assert.match(output, /ℹ pass 2\n/);
  assert.doesNotMatch(output, /EXPECTED-ERROR-LOG|A-LOG-LINE/, output);
});

test('when a test fails, everything its file printed is shown with the failure', () => {
  const { status, output } = runTests(true);
  assert.equal(status, 1, output);
  assert.match(output, /EXPECTED-ERROR-LOG/);
  assert.match(output, /A-LOG-LINE/);
  assert.match(output, /✖ fails/);
  assert.match(output, /THE-FAILURE/);
  assert.match(output, /ℹ fail 1\n/);
});
