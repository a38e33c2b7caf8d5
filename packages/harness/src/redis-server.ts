import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRestartable, type Restartable } from './process-group.js';

/** Why no `redis-server` can run here, with what to install. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface RedisServerOptions {
  /** `requirepass`: clients must AUTH, as with Memorystore's AUTH string. */
  password?: string;
  /** In-transit encryption only, like Memorystore's: a test CA and a certificate for 127.0.0.1. */
  tls?: boolean;
  port?: number;
}

/** A `redis-server` of our own on loopback: no persistence, in its own process group. */
export interface RedisServer extends Restartable {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  /** With `tls`: the CA file a client must trust (what REDIS_TLS_CA points to). */
  readonly caFile?: string;
  /** REDIS_HOST, REDIS_PORT and, where set, REDIS_PASSWORD and REDIS_TLS_CA. */
  readonly env: Record<string, string>;
}

export function findRedisServer(): string {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return 'redis-server';
  } catch {
    throw new RedisUnavailableError(
      '`redis-server` is not installed. Install it with `sudo apt-get install -y redis-server` ' +
        '(Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const command = findRedisServer();
  const port = options.port ?? (await freePort());
  const args = [
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--enable-debug-command',
    'local',
  ];
  if (options.password) args.push('--requirepass', options.password);
  let caFile: string | undefined;
  if (options.tls) {
    const files = makeTestCertificates();
    caFile = files.ca;
    args.push('--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no');
    args.push(
      '--tls-cert-file',
      files.cert,
      '--tls-key-file',
      files.key,
      '--tls-ca-cert-file',
      files.ca,
    );
  } else {
    args.push('--port', String(port));
  }

  const server = await startRestartable({
    name: 'redis-server',
    command,
    args,
    port,
    timeoutMs: 20_000,
  });

  const env: Record<string, string> = { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port) };
  if (options.password) env.REDIS_PASSWORD = options.password;
  if (caFile) env.REDIS_TLS_CA = caFile;
  return {
    host: '127.0.0.1',
    port,
    ...(options.password && { password: options.password }),
    ...(caFile && { caFile }),
    env,
    ...server,
  };
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
function makeTestCertificates() {
  const dir = mkdtempSync(join(tmpdir(), 'visitme-redis-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=VisitMe test CA',
  );
  openssl(
    'req',
    '-new',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=localhost',
  );
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '2',
    '-extfile',
    file('san.ext'),
  );
  return { ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}
