import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const logModule = new URL('../src/log.js', import.meta.url).href;

/** What `log()` writes to stdout and stderr, in a process of its own. */
function logged(severity: string, message: string, fields: Record<string, unknown> = {}) {
  const script =
    `import { log } from ${JSON.stringify(logModule)};` +
    `log(${JSON.stringify(severity)}, ${JSON.stringify(message)}, ${JSON.stringify(fields)});`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test('a log line stays one line for every line splitter, and reads back exactly', () => {
  // U+2028 and U+2029 (JavaScript's, JSON-lines readers'), U+0085 (Python's splitlines()),
  // and the ASCII ones JSON.stringify already escapes.
  const visitor = 'a\u2028b\u2029c\u0085d\ne\rf\vg\fh\u001ci';
  const output = logged('INFO', `stored ${visitor}`, { visitor });
  assert.ok(output.endsWith('\n'));
  const line = output.slice(0, -1);
  assert.doesNotMatch(line, /[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/);
  assert.equal(line.split(/\r\n|[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/).length, 1);
  assert.deepEqual(JSON.parse(line), {
    severity: 'INFO',
    message: `stored ${visitor}`,
    visitor,
  });
});
