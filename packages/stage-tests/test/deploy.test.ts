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
import { shellBlocks } from '@visitme/docs/gcloud-commands';
import { freePort, get, listItems, startServer } from '@visitme/harness';
import { STAGES, stagesCaching, useServices, type Stage } from './stages.js';

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
      assert.equal(manifest.scripts.start, 'exec node dist/src/server.js');
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
      const copy = mkdtempSync(join(tmpdir(), `visitme-deploy-${stage.name}-`));
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
        const server = await startServer('npm start', 'npm', ['start'], port, {
          env: {
            ...process.env,
            ...file.services.redis.env,
            PORT: String(port),
            DATASTORE_EMULATOR_HOST: file.services.emulator.host,
            GOOGLE_CLOUD_PROJECT: `deploy-${stage.name}`,
            METADATA_SERVER_DETECTION: 'none',
            NODE_ENV: 'production',
          },
          cwd: copy,
        });
        try {
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

/** The prework's shell variables, as a learner has them set (not exported) in their shell. */
const PREWORK = { PROJECT_ID: 'visitme-readme-check', REGION: 'us-central1' };
/** What the stand-in gcloud says a Memorystore instance is. */
const INSTANCE = { host: '10.0.0.3', port: '6379' };

/**
 * The environment without any of the learner's values or the prework's variables, plus
 * `values`; `bin` (a stand-in gcloud) first on PATH.
 */
function envWith(values: Record<string, string>, bin?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', ...values };
  for (const name of [...REDIS_VARIABLES, CONNECTOR_VARIABLE, ...Object.keys(PREWORK)]) {
    if (!(name in values)) delete env[name];
  }
  if (bin) env.PATH = `${bin}:${process.env.PATH}`;
  return env;
}

describe('npm run deploy', () => {
  // Any stage will do, and for Redis's settings and the connector, a stage that caches there.
  const [first] = STAGES as [Stage, ...Stage[]];
  const [redis] = stagesCaching('redis') as [Stage, ...Stage[]];
  const MOD13 = redis.dir;
  /** `npm run deploy -w modules/<stage> -- ARGS…`, typed at the repository root. */
  const npmDeploy = (stage: string, args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync('npm', ['run', '--silent', 'deploy', '-w', `modules/${stage}`, '--', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
    });

  test('deploy:prepare builds the folder and prints a gcloud command that works where it was typed', () => {
    const prepare = (cwd: string, args: string[]) =>
      execFileSync('npm', ['run', '--silent', 'deploy:prepare', ...args], {
        cwd,
        encoding: 'utf8',
        env: envWith({}),
      });
    const fromRoot = prepare(ROOT, ['-w', `modules/${first.name}`]);
    assert.match(fromRoot, new RegExp(`^Deploy folder: \\.deploy/${first.name}\n`));
    assert.match(
      fromRoot,
      new RegExp(`\nDeploy with:\n {2}gcloud app deploy \\.deploy/${first.name}/app\\.yaml\n$`),
    );
    const fromModule = prepare(first.dir, []);
    assert.match(
      fromModule,
      new RegExp(
        `\nDeploy with:\n {2}gcloud app deploy \\.\\./\\.\\./\\.deploy/${first.name}/app\\.yaml\n$`,
      ),
    );
    // Outside the stage folder, so diffing two stages never shows it.
    assert.equal(existsSync(join(first.dir, '.deploy')), false);
  });

  test('with placeholders left in app.yaml it stops before gcloud, naming each and how to get it', (t) => {
    const gcloud = fakeGcloud(t);
    const tracked = readFileSync(join(MOD13, 'app.yaml'), 'utf8');
    const run = npmDeploy(redis.name, ['--project=P'], envWith({}, gcloud.bin));
    assert.notEqual(run.status, 0, run.stdout);
    assert.deepEqual(gcloud.calls(), [], 'gcloud never ran');
    const said = run.stderr;
    assert.match(
      said,
      new RegExp(`modules/${redis.name}/app\\.yaml still holds placeholders`),
      said,
    );
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
    // Where the values go: the environment, or the generated folder; never the tracked file.
    const [readme, folder] = [`modules/${redis.name}/README\\.md`, `\\.deploy/${redis.name}`];
    assert.match(said, new RegExp(`Set them in the environment, as ${readme} shows`));
    assert.match(
      said,
      new RegExp(
        `${folder}/app\\.yaml \\(git ignores it\\), and run\n {2}gcloud app deploy ${folder}/app\\.yaml --project=P\n`,
      ),
    );
    assert.match(
      said,
      new RegExp(`Leave modules/${redis.name}/app\\.yaml as it is: git tracks it`),
    );
    assert.doesNotMatch(said, /write them into/);
    assert.doesNotMatch(run.stdout, /Deploy with|Deploying/);
    assert.equal(readFileSync(join(MOD13, 'app.yaml'), 'utf8'), tracked);
  });

  test("with the learner's values in the environment it deploys them; the tracked app.yaml is unchanged", (t) => {
    const gcloud = fakeGcloud(t);
    const tracked = readFileSync(join(MOD13, 'app.yaml'), 'utf8');
    const connector = 'projects/my-project/locations/us-central1/connectors/visitme-connector';
    const run = npmDeploy(
      redis.name,
      ['--project=my-project', '--version=v2'],
      envWith(
        { REDIS_HOST: '10.0.0.3', REDIS_PORT: '6379', VPC_ACCESS_CONNECTOR: connector },
        gcloud.bin,
      ),
    );
    assert.equal(run.status, 0, run.stderr);
    const deploy = [
      'app',
      'deploy',
      `.deploy/${redis.name}/app.yaml`,
      '--project=my-project',
      '--version=v2',
    ];
    assert.deepEqual(gcloud.calls(), [deploy]);
    // It says what it runs as it runs it, not as a command left to the learner.
    assert.match(run.stdout, new RegExp(`\nDeploying: gcloud ${deploy.join(' ')}\n$`));
    assert.doesNotMatch(run.stdout, /Deploy with/);
    const deployed = parse(gcloud.deployedYaml());
    assert.deepEqual(deployed.env_variables, { REDIS_HOST: '10.0.0.3', REDIS_PORT: '6379' });
    assert.deepEqual(deployed.vpc_access_connector, { name: connector });
    assert.equal(deployed.runtime, parse(tracked).runtime);
    assert.equal(readFileSync(join(MOD13, 'app.yaml'), 'utf8'), tracked);
  });

  test('a second deploy:prepare keeps the lockfile npm wrote, unless a package in it changed', (t) => {
    // npm first on PATH through a wrapper that notes each call, then runs the real one.
    const bin = mkdtempSync(join(tmpdir(), 'recording-npm-'));
    t.after(() => rmSync(bin, { recursive: true, force: true }));
    const realNpm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
    const calls = join(bin, 'calls');
    writeFileSync(
      join(bin, 'npm'),
      `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${realNpm}' "$@"\n`,
      { mode: 0o755 },
    );
    const env = envWith({});
    env.PATH = `${bin}:${process.env.PATH}`;
    const lockPath = join(ROOT, '.deploy', first.name, 'package-lock.json');
    const prepare = () => {
      writeFileSync(calls, '');
      execFileSync('npm', ['run', '--silent', 'deploy:prepare', '-w', `modules/${first.name}`], {
        cwd: ROOT,
        env,
        stdio: 'ignore',
      });
      return readFileSync(calls, 'utf8').includes('install --package-lock-only');
    };
    prepare();
    const made = readFileSync(lockPath, 'utf8');
    assert.equal(prepare(), false, 'npm did not run again');
    assert.equal(readFileSync(lockPath, 'utf8'), made);

    // One package in it no longer as the workspace lockfile has it: npm runs, and puts it right.
    const lock = JSON.parse(made);
    const [path] = Object.keys(lock.packages).filter((key) => key !== '');
    lock.packages[path!].integrity = 'sha512-not-what-the-workspace-has';
    writeFileSync(lockPath, JSON.stringify(lock));
    assert.equal(prepare(), true, 'npm ran');
    assert.equal(readFileSync(lockPath, 'utf8'), made);
  });

  test('an empty --project, what an unset PROJECT_ID leaves, is refused before anything runs', (t) => {
    const gcloud = fakeGcloud(t);
    const run = npmDeploy(first.name, ['--project='], envWith({}, gcloud.bin));
    assert.equal(run.status, 2, run.stderr);
    assert.deepEqual(gcloud.calls(), [], 'gcloud never ran');
    assert.equal(
      run.stderr,
      "--project is empty: PROJECT_ID is not set in this shell. Set it to your project's ID " +
        `(PROJECT_ID=your-project-id), as modules/${first.name}/README.md shows under Prework.\n` +
        'Nothing was built or deployed.\n',
    );
  });
});

describe("the module READMEs' deploy blocks, run as written", () => {
  for (const stage of STAGES) {
    test(`${stage.name}: every \`npm run deploy\` block deploys, with the values gcloud describes`, (t) => {
      const readme = readFileSync(join(stage.dir, 'README.md'), 'utf8');
      const blocks = shellBlocks(readme).filter(({ text }) => /\bnpm run deploy(\s|$)/m.test(text));
      assert.ok(blocks.length >= 1, `modules/${stage.name}/README.md shows how to deploy`);
      const tracked = parse(readFileSync(join(stage.dir, 'app.yaml'), 'utf8'));
      for (const { line, text } of blocks) {
        const where = `modules/${stage.name}/README.md:${line}`;
        const gcloud = fakeGcloud(t, PREWORK.PROJECT_ID);
        // From the repository root, as the README says, in a shell where the prework set its
        // variables (plain shell variables: the block must not need them exported).
        const prework = Object.entries(PREWORK).map(([name, value]) => `${name}=${value}\n`);
        const run = spawnSync('bash', ['-c', prework.join('') + text], {
          cwd: ROOT,
          encoding: 'utf8',
          env: envWith({}, gcloud.bin),
        });
        assert.equal(run.status, 0, `${where}\n${text}\n${run.stdout}${run.stderr}`);
        const deploys = gcloud.calls().filter((args) => args[0] === 'app');
        assert.deepEqual(
          deploys,
          [['app', 'deploy', `.deploy/${stage.name}/app.yaml`, `--project=${PREWORK.PROJECT_ID}`]],
          where,
        );
        // The deployed app.yaml is the stage's, with what gcloud described in its placeholders.
        const expected = structuredClone(tracked);
        if (expected.env_variables?.REDIS_HOST !== undefined) {
          expected.env_variables.REDIS_HOST = INSTANCE.host;
          expected.env_variables.REDIS_PORT = INSTANCE.port;
        }
        if (expected.vpc_access_connector !== undefined) {
          expected.vpc_access_connector.name = `projects/${PREWORK.PROJECT_ID}/locations/${PREWORK.REGION}/connectors/visitme-connector`;
        }
        assert.deepEqual(parse(gcloud.deployedYaml()), expected, where);
      }
    });
  }

  test('the same block with PROJECT_ID not set is refused before gcloud runs, naming it', (t) => {
    const readme = readFileSync(join(STAGES[0]!.dir, 'README.md'), 'utf8');
    const [block] = shellBlocks(readme).filter(({ text }) => /\bnpm run deploy\s/.test(text));
    const gcloud = fakeGcloud(t, PREWORK.PROJECT_ID);
    const run = spawnSync('bash', ['-c', block!.text], {
      cwd: ROOT,
      encoding: 'utf8',
      env: envWith({}, gcloud.bin),
    });
    assert.notEqual(run.status, 0, run.stdout);
    assert.deepEqual(gcloud.calls(), []);
    assert.match(run.stderr, /--project is empty: PROJECT_ID is not set in this shell\./);
  });
});

/**
 * A stand-in gcloud first on PATH (nothing is deployed from a test), configured with `project`:
 * it records every call, answers the `describe` commands the READMEs use with plausible
 * values, keeps a copy of the app.yaml that `app deploy` is handed (from the folder it was run
 * in), and fails on anything else.
 */
function fakeGcloud(t: { after(fn: () => void): void }, project = 'configured-project') {
  const bin = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const script = `#!/usr/bin/env node
const { appendFileSync, copyFileSync } = require('node:fs');
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(join(bin, 'calls'))}, JSON.stringify(args) + '\\n');
const flag = (name) => {
  const index = args.findIndex((arg) => arg === '--' + name || arg.startsWith('--' + name + '='));
  if (index < 0) return undefined;
  return args[index] === '--' + name ? args[index + 1] : args[index].slice(name.length + 3);
};
const words = args.filter((arg, i) => !arg.startsWith('--') && !(args[i - 1] || '').match(/^--[a-z-]+$/));
const command = words.slice(0, -1).join(' ');
const name = words.at(-1);
const region = flag('region');
const format = flag('format');
const answers = {
  'redis instances describe': {
    'value(host)': ${JSON.stringify(INSTANCE.host)},
    'value(port)': ${JSON.stringify(INSTANCE.port)},
    'value(authorizedNetwork)': 'projects/${project}/global/networks/default',
  },
  'compute networks vpc-access connectors describe': {
    'value(name)': 'projects/${project}/locations/' + region + '/connectors/' + name,
    'value(network)': 'default',
  },
};
if (words[0] === 'app' && words[1] === 'deploy') {
  copyFileSync(words[2], ${JSON.stringify(join(bin, 'app.yaml'))});
} else if (answers[command] && region && answers[command][format] !== undefined) {
  process.stdout.write(answers[command][format] + '\\n');
} else {
  process.stderr.write('fake gcloud: no answer for gcloud ' + args.join(' ') + '\\n');
  process.exit(1);
}
`;
  writeFileSync(join(bin, 'gcloud'), script, { mode: 0o755 });
  return {
    bin,
    /** Each call's arguments, in order. */
    calls: (): string[][] =>
      existsSync(join(bin, 'calls'))
        ? readFileSync(join(bin, 'calls'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : [],
    /** The app.yaml `gcloud app deploy` was handed. */
    deployedYaml: () => readFileSync(join(bin, 'app.yaml'), 'utf8'),
  };
}
