import { readFileSync } from 'node:fs';

/**
 * The port in the environment variable `name`, or `fallback` when it is not set. Only a
 * decimal port from 1 to 65535 is accepted: an empty value, `abc` or `0x1f` is a mistake to
 * report at start, not a port to guess.
 */
export function portSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined) return fallback;
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new Error(`${name} must be a decimal port number from 1 to 65535; it is "${value}"`);
  }
  return port;
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
