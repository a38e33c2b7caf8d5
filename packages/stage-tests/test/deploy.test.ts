// Every claim about a module's deploy folder, checked offline: it installs on its own
// (`npm ci --omit=dev`, as App Engine runs it, in a folder outside the workspace), serves
// the page with `npm start`, uploads only what it should, and agrees with app.yaml on the
// Node.js version.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { prepareDeployFolder } from '@visitme/deploy';
import { freePort, get, listItems, spawnGroup, untilListening } from '@visitme/harness';
import { STAGES, useServices } from './stages.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const file = useServices();

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

for (const stage of STAGES) {
  describe(`${stage} deploy folder`, () => {
    test('is self-contained, installs alone, serves the page, uploads only what it should', async () => {
      const moduleDir = join(ROOT, 'modules', stage);
      const folder = await prepareDeployFolder(moduleDir);

      // app.yaml is the module's own; package.json agrees with it on Node's major version.
      const appYaml = readFileSync(join(folder.dir, 'app.yaml'), 'utf8');
      assert.equal(appYaml, readFileSync(join(moduleDir, 'app.yaml'), 'utf8'));
      const major = /^nodejs(\d+)$/.exec(parse(appYaml).runtime)?.[1];
      assert.ok(Number(major) >= 22, 'a supported runtime: nodejs22 or newer');
      const manifest = readJson(join(folder.dir, 'package.json'));
      assert.deepEqual(manifest.engines, { node: `${major}.x` });
      assert.equal(manifest.scripts.start, 'node dist/src/server.js');
      assert.equal(manifest.scripts['gcp-build'], '', 'App Engine builds nothing');
      assert.equal(manifest.devDependencies, undefined);
      assert.equal(manifest.workspaces, undefined);

      // Only registry packages, at exactly the versions the workspace lockfile resolved.
      for (const [name, version] of Object.entries<string>(manifest.dependencies)) {
        assert.ok(!name.startsWith('@visitme/'), `${name}: no workspace package`);
        assert.equal(version, rootLock.packages[`node_modules/${name}`].version, name);
      }
      const lock = readJson(join(folder.dir, 'package-lock.json'));
      assert.deepEqual(lock.packages[''].dependencies, manifest.dependencies);
      for (const [path, entry] of Object.entries<{ link?: boolean; dev?: boolean }>(
        lock.packages,
      )) {
        assert.ok(path === '' || path.startsWith('node_modules/'), `${path}: no workspace entry`);
        assert.ok(!entry.link && !entry.dev, `${path}: no link, no dev dependency`);
      }

      // Installed and run as App Engine would, away from the workspace.
      const copy = mkdtempSync(join(tmpdir(), `visitme-deploy-${stage}-`));
      try {
        cpSync(folder.dir, copy, { recursive: true });
        execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
          cwd: copy,
          stdio: ['ignore', 'ignore', 'inherit'],
        });

        // What `gcloud app deploy` would upload: no node_modules, sources, tests or secrets.
        const uploads = execFileSync('gcloud', ['meta', 'list-files-for-upload', copy], {
          encoding: 'utf8',
        })
          .split('\n')
          .filter(Boolean)
          .sort();
        assert.deepEqual(uploads, [
          'app.yaml',
          'dist/src/server.js',
          'package-lock.json',
          'package.json',
          'views/index.pug',
        ]);

        const port = await freePort();
        const server = spawnGroup('npm', ['start'], {
          env: {
            ...process.env,
            ...file.services.redis.env,
            PORT: String(port),
            DATASTORE_EMULATOR_HOST: file.services.emulator.host,
            GOOGLE_CLOUD_PROJECT: `deploy-${stage}`,
            METADATA_SERVER_DETECTION: 'none',
            NODE_ENV: 'production',
          },
          cwd: copy,
        });
        try {
          await untilListening('npm start', port, server);
          const page = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'deployed' });
          assert.equal(page.status, 200, server.output());
          assert.match(page.body, /<title>VisitMe Example<\/title>/);
          assert.match(listItems(page.body)[0] ?? '', / from .*: deployed$/);
        } finally {
          await server.stop(10_000);
        }
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    });
  });
}

describe('npm run deploy', () => {
  test('deploy:prepare builds the folder and prints the gcloud command', () => {
    const output = execFileSync(
      'npm',
      ['run', '--silent', 'deploy:prepare', '-w', 'modules/mod1-baseline'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
      },
    );
    assert.match(output, /Deploy folder: .*modules\/mod1-baseline\/\.deploy\n/);
    assert.match(output, /\n {2}gcloud app deploy \.deploy\/app\.yaml\n$/);
  });

  test('deploy runs gcloud app deploy on the folder, passing extra arguments through', () => {
    // A stand-in gcloud that records its arguments: nothing is deployed from a test.
    const bin = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
    const record = join(bin, 'args');
    writeFileSync(join(bin, 'gcloud'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\n`, {
      mode: 0o755,
    });
    try {
      execFileSync(
        'npm',
        [
          'run',
          '--silent',
          'deploy',
          '-w',
          'modules/mod13-redis',
          '--',
          '--project=my-project',
          '--version=v2',
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            TURBO_TELEMETRY_DISABLED: '1',
          },
        },
      );
      assert.deepEqual(readFileSync(record, 'utf8').split('\n').filter(Boolean), [
        'app',
        'deploy',
        '.deploy/app.yaml',
        '--project=my-project',
        '--version=v2',
      ]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
