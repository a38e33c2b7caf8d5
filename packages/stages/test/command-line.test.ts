import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../src/stages.js';

const COMMAND_LINE = JSON.stringify(new URL('../src/command-line.js', import.meta.url).href);

/** A tool of one line that reads its command line with commandLine(): its exit and output. */
function tool(args: string[], tag = '') {
  const script = `
    import { commandLine } from ${COMMAND_LINE};
    const { values } = commandLine(
      { args: ${JSON.stringify(args)}, options: { port: { type: 'string' } } },
      'usage: a-tool [--port=N]\\n       a-tool --port=N',
      ${JSON.stringify(tag)},
    );
    console.log(JSON.stringify(values));
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

test('a mistyped option: what was wrong in one sentence, then the usage, exit 2; --help: the usage', () => {
  const unknown = tool(['--prot=8080']);
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stdout, '');
  assert.equal(
    unknown.stderr,
    "Unknown option '--prot'.\nusage: a-tool [--port=N]\n       a-tool --port=N\n",
  );
  const missing = tool(['--port'], '[tool] ');
  assert.equal(missing.status, 2);
  assert.equal(
    missing.stderr,
    "[tool] Option '--port <value>' argument missing.\n" +
      '       usage: a-tool [--port=N]\n' +
      '              a-tool --port=N\n',
  );
  const help = tool(['-h'], '[tool] ');
  assert.equal(help.status, 0);
  assert.equal(help.stdout, '[tool] usage: a-tool [--port=N]\n              a-tool --port=N\n');
  const fine = tool(['--port=8080']);
  assert.equal(fine.status, 0, fine.stderr);
  assert.deepEqual(JSON.parse(fine.stdout), { port: '8080' });
});

// Found in the root package.json: every `npm run` script that is `… exec node TOOL ARGS`.
const TOOLS = Object.entries<string>(
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts,
).flatMap(([script, command]) => {
  const [, path, args = ''] = /\bexec node (\S+)(.*)$/.exec(command) ?? [];
  return path ? [{ script, path: join(ROOT, path), args: args.split(' ').filter(Boolean) }] : [];
});

test('every tool `npm run` starts answers --help and a mistyped option so, never with a stack trace', () => {
  assert.ok(TOOLS.length >= 5, `the tools: ${TOOLS.map(({ script }) => script)}`);
  for (const { script, path, args } of TOOLS) {
    assert.ok(existsSync(path), `${script}: ${path} is built (npm run build)`);
    const run = spawnSync(process.execPath, [path, ...args, '--no-such-option'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 2, `${script}: ${run.stderr}`);
    assert.match(run.stderr, /^(\[\w+\] )?Unknown option '--no-such-option'\.\n\s*usage: /, script);
    assert.doesNotMatch(run.stderr, /^\s+at /m, `${script}: no stack trace`);
    const help = spawnSync(process.execPath, [path, ...args, '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(help.status, 0, `${script} --help: ${help.stderr}`);
    assert.match(help.stdout, /^(\[\w+\] )?usage: /, `${script} --help`);
  }
});
