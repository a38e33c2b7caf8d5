// One JSON object per line: Cloud Logging on App Engine reads `severity` and `message`
// from it, and it is still readable in a local terminal.
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export function log(severity: Severity, message: string, fields: Record<string, unknown> = {}) {
  const entry = JSON.stringify({ severity, message, ...fields }, errorsAsText);
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
