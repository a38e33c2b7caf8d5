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
  return value instanceof Error ? (value.stack ?? String(value)) : value;
}
