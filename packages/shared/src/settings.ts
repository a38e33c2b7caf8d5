import { X509Certificate } from 'node:crypto';
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

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The file the environment variable `name` names, checked to hold PEM certificates (a CA file
 * for TLS); an Error naming both if it does not. Node's TLS would take a file of anything
 * without a word and then trust nothing: every connection would fail, blaming the server.
 */
export function certificatesSetting(env: NodeJS.ProcessEnv, name: string): Buffer {
  const file = fileSetting(env, name);
  const path = env[name];
  const certificates = file.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    throw new Error(
      `${name} names a file that holds no PEM certificate: "${path}" ` +
        '(one begins "-----BEGIN CERTIFICATE-----")',
    );
  }
  for (const [index, certificate] of certificates.entries()) {
    try {
      new X509Certificate(certificate);
    } catch (error) {
      throw new Error(
        `${name} names a file with a certificate that cannot be read: "${path}" ` +
          `(certificate ${index + 1} of ${certificates.length})`,
        { cause: error },
      );
    }
  }
  return file;
}
