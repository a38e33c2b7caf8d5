// One JSON object per line: Cloud Logging on App Engine reads `severity` and `message`
// from it, and it is still readable in a local terminal.
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

// JSON.stringify escapes every control character below U+0020 but leaves these raw, and log
// tools that split lines the Unicode way (JavaScript's, Python's splitlines()) break a line at
// them. They can only occur inside strings, where the escaped form means the same.
const LINE_BREAKS = /[\u0085\u2028\u2029]/g;

export function log(severity: Severity, message: string, fields: Record<string, unknown> = {}) {
  const entry = JSON.stringify({ severity, message, ...fields }, errorsAsText).replace(
    LINE_BREAKS,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (severity === 'ERROR' || severity === 'CRITICAL' || severity === 'WARNING') {
    process.stderr.write(entry + '\n');
  } else {
    process.stdout.write(entry + '\n');
  }
}

function errorsAsText(_key: string, value: unknown) {
  return value instanceof Error ? describe(value) : value;
}

// The stack, then each `cause` under it: the cause is what says why Datastore failed.
function describe(error: Error): string {
  const text = error.stack ?? String(error);
  return error.cause === undefined
    ? text
    : `${text}\nCaused by: ${error.cause instanceof Error ? describe(error.cause) : String(error.cause)}`;
}
