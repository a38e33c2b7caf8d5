import { readFileSync } from 'node:fs';

/**
 * `text` as a port, named `name` in the error when it is none: only a decimal port from 1 to
 * 65535 is accepted. An empty value, `abc` or `0x1f` is a mistake to report, not a port to guess.
 */
export function portNumber(text: string, name: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new Error(`${name} must be a decimal port number from 1 to 65535; it is "${text}"`);
  }
  return port;
}

/** The port in the environment variable `name` (see `portNumber`), or `fallback` when unset. */
export function portSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  return value === undefined ? fallback : portNumber(value, name);
}

/** The contents of the file the environment variable `name` names; an Error naming both if unreadable. */
export function fileSetting(env: NodeJS.ProcessEnv, name: string): Buffer {
  const path = env[name] ?? '';
  try {
    return readFileSync(path);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(`${name} names a file that cannot be read: "${path}" (${why})`, {
      cause: error,
    });
  }
}
