import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { certificatesSetting, portSetting } from '../src/index.js';
import { fileSetting } from '../src/settings.js';

test('portSetting(): a decimal port, or the fallback when the variable is not set', () => {
  assert.equal(portSetting({}, 'REDIS_PORT', 6379), 6379);
  assert.equal(portSetting({ REDIS_PORT: '6380' }, 'REDIS_PORT', 6379), 6380);
  assert.equal(portSetting({ REDIS_PORT: '1' }, 'REDIS_PORT', 6379), 1);
  assert.equal(portSetting({ REDIS_PORT: '65535' }, 'REDIS_PORT', 6379), 65535);
});

for (const value of [
  '',
  'abc',
  '0x1f',
  '0x5a2f',
  '1e3',
  '0',
  '65536',
  '-1',
  ' 80',
  '80 ',
  '6379.0',
  'YOUR_REDIS_PORT',
]) {
  test(`portSetting() refuses ${JSON.stringify(value)}, naming the variable and the value`, () => {
    assert.throws(
      () => portSetting({ REDIS_PORT: value }, 'REDIS_PORT', 6379),
      (error: Error) =>
        error.message ===
        `REDIS_PORT must be a decimal port number from 1 to 65535; it is "${value}"`,
    );
  });
}

test('fileSetting(): the file the variable names; an Error naming both when unreadable', () => {
  const folder = mkdtempSync(join(tmpdir(), 'settings-'));
  const ca = join(folder, 'server-ca.pem');
  writeFileSync(ca, 'CERTIFICATE');
  assert.equal(fileSetting({ REDIS_TLS_CA: ca }, 'REDIS_TLS_CA').toString(), 'CERTIFICATE');
  const missing = join(folder, 'missing.pem');
  assert.throws(
    () => fileSetting({ REDIS_TLS_CA: missing }, 'REDIS_TLS_CA'),
    new RegExp(`^Error: REDIS_TLS_CA names a file that cannot be read: "${missing}" \\(ENOENT\\)$`),
  );
  assert.throws(
    () => fileSetting({ REDIS_TLS_CA: folder }, 'REDIS_TLS_CA'),
    /^Error: REDIS_TLS_CA .*\(EISDIR\)$/,
  );
});

test('certificatesSetting(): PEM certificates, checked; anything else refused, naming the variable', () => {
  const folder = mkdtempSync(join(tmpdir(), 'settings-'));
  const path = (name: string, contents: string | Buffer) => {
    writeFileSync(join(folder, name), contents);
    return join(folder, name);
  };
  const ca = join(folder, 'ca.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test CA'],
      ...['-keyout', join(folder, 'ca.key'), '-out', ca],
    ],
    { stdio: 'ignore' },
  );
  const pem = readFileSync(ca, 'latin1');
  const setting = (file: string) => certificatesSetting({ REDIS_TLS_CA: file }, 'REDIS_TLS_CA');

  assert.deepEqual(setting(ca), readFileSync(ca));
  setting(path('bundle.pem', `Memorystore's server CA\n${pem}\n${pem}`)); // text between is fine

  const der = execFileSync('openssl', ['x509', '-in', ca, '-outform', 'der']);
  for (const [what, file] of [
    ['text', path('text.pem', 'this is not a certificate\n')],
    ['random bytes', path('random.pem', randomBytes(2048))],
    ['empty', path('empty.pem', '')],
    ['DER, not PEM', path('ca.der', der)],
    ['a private key', join(folder, 'ca.key')],
  ]) {
    assert.throws(
      () => setting(file!),
      {
        message: `REDIS_TLS_CA names a file that holds no PEM certificate: "${file}" (one begins "-----BEGIN CERTIFICATE-----")`,
      },
      what,
    );
  }
  const damaged = pem.replace(/^(-----BEGIN CERTIFICATE-----\n.{10})./m, '$1!');
  const second = path('damaged.pem', `${pem}${damaged}`);
  assert.throws(() => setting(second), {
    message: `REDIS_TLS_CA names a file with a certificate that cannot be read: "${second}" (certificate 2 of 2)`,
  });
  assert.throws(() => setting(join(folder, 'missing.pem')), /cannot be read: .*\(ENOENT\)$/);
});
