// Every claim about a module's deploy folder, checked offline: it installs on its own
// (`npm ci --omit=dev`, as App Engine runs it, in a folder outside the workspace), serves
// the page with `npm start`, uploads only what it should, and agrees with app.yaml on the
// Node.js version.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { CONNECTOR_VARIABLE, REDIS_VARIABLES, prepareDeployFolder } from '@visitme/deploy';
import { freePort, get, listItems, spawnGroup, untilListening } from '@visitme/harness';
import { STAGES, useServices } from './stages.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const file = useServices();

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

for (const stage of STAGES) {
  describe(`${stage.name} deploy folder`, () => {
    test('is self-contained, installs alone, serves the page, uploads only what it should', async () => {
      const moduleDir = stage.dir;
      const folder = await prepareDeployFolder(moduleDir, { env: {} });

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
        const installed = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
          cwd: copy,
          encoding: 'utf8',
        });
        assert.equal(installed.status, 0, installed.stderr);
        // Quietly: the root's allowScripts came along (engines may differ from this Node.js).
        assert.doesNotMatch(installed.stderr, /install-scripts|protobufjs/);

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
  const MOD13 = join(ROOT, 'modules', 'mod13-redis');
  /** The environment without any of the learner's values, plus `values`. */
  const envWith = (values: Record<string, string>, bin?: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', ...values };
    for (const name of [...REDIS_VARIABLES, CONNECTOR_VARIABLE]) {
      if (!(name in values)) delete env[name];
    }
    if (bin) env.PATH = `${bin}:${process.env.PATH}`;
    return env;
  };
  /**
   * A stand-in gcloud on PATH (nothing is deployed from a test): it records its arguments
   * and a copy of the app.yaml it was handed, from the folder it was run in.
   */
  const fakeGcloud = (t: { after(fn: () => void): void }) => {
    const bin = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
    t.after(() => rmSync(bin, { recursive: true, force: true }));
    writeFileSync(
      join(bin, 'gcloud'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > '${bin}/args'\ncp "$3" '${bin}/app.yaml'\n`,
      { mode: 0o755 },
    );
    return bin;
  };

  test('deploy:prepare builds the folder and prints a gcloud command that works where it was typed', () => {
    const prepare = (cwd: string, args: string[]) =>
      execFileSync('npm', ['run', '--silent', 'deploy:prepare', ...args], {
        cwd,
        encoding: 'utf8',
        env: envWith({}),
      });
    const fromRoot = prepare(ROOT, ['-w', 'modules/mod1-baseline']);
    assert.match(fromRoot, /Deploy folder: .*modules\/mod1-baseline\/\.deploy\n/);
    assert.match(
      fromRoot,
      /\n {2}gcloud app deploy modules\/mod1-baseline\/\.deploy\/app\.yaml\n$/,
    );
    const fromModule = prepare(join(ROOT, 'modules', 'mod1-baseline'), []);
    assert.match(fromModule, /\n {2}gcloud app deploy \.deploy\/app\.yaml\n$/);
  });

  test('with placeholders left in app.yaml it stops before gcloud, naming each and how to get it', (t) => {
    const bin = fakeGcloud(t);
    const tracked = readFileSync(join(MOD13, 'app.yaml'), 'utf8');
    const run = spawnSync(
      'npm',
      ['run', '--silent', 'deploy', '-w', 'modules/mod13-redis', '--', '--project=P'],
      { cwd: ROOT, encoding: 'utf8', env: envWith({}, bin) },
    );
    assert.notEqual(run.status, 0, run.stdout);
    assert.equal(existsSync(join(bin, 'args')), false, 'gcloud never ran');
    const said = run.stderr;
    assert.match(said, /modules\/mod13-redis\/app\.yaml still holds placeholders/, said);
    assert.match(said, /env_variables\.REDIS_HOST is YOUR_REDIS_HOST: set REDIS_HOST/);
    assert.match(
      said,
      /gcloud redis instances describe INSTANCE --region=REGION --format='value\(host\)'/,
    );
    assert.match(said, /env_variables\.REDIS_PORT is YOUR_REDIS_PORT: set REDIS_PORT/);
    assert.match(said, /--format='value\(port\)'/);
    assert.match(
      said,
      /vpc_access_connector\.name is PROJECT_ID, REGION, CONNECTOR: set VPC_ACCESS_CONNECTOR/,
    );
    assert.match(said, /gcloud compute networks vpc-access connectors describe CONNECTOR/);
    assert.doesNotMatch(run.stdout, /Deploy with/);
    assert.equal(readFileSync(join(MOD13, 'app.yaml'), 'utf8'), tracked);
  });

  test("with the learner's values in the environment it deploys them; the tracked app.yaml is unchanged", (t) => {
    const bin = fakeGcloud(t);
    const tracked = readFileSync(join(MOD13, 'app.yaml'), 'utf8');
    const connector = 'projects/my-project/locations/us-central1/connectors/visitme-connector';
    const run = spawnSync(
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
        encoding: 'utf8',
        env: envWith(
          { REDIS_HOST: '10.0.0.3', REDIS_PORT: '6379', VPC_ACCESS_CONNECTOR: connector },
          bin,
        ),
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(readFileSync(join(bin, 'args'), 'utf8').split('\n').filter(Boolean), [
      'app',
      'deploy',
      'modules/mod13-redis/.deploy/app.yaml',
      '--project=my-project',
      '--version=v2',
    ]);
    const deployed = parse(readFileSync(join(bin, 'app.yaml'), 'utf8'));
    assert.deepEqual(deployed.env_variables, { REDIS_HOST: '10.0.0.3', REDIS_PORT: '6379' });
    assert.deepEqual(deployed.vpc_access_connector, { name: connector });
    assert.equal(deployed.runtime, parse(tracked).runtime);
    assert.equal(readFileSync(join(MOD13, 'app.yaml'), 'utf8'), tracked);
  });
});
