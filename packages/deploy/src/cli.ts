// `npm run deploy:prepare` and `npm run deploy` in a module folder:
//   visitme-deploy prepare            builds the deploy folder and prints the gcloud command
//   visitme-deploy deploy [ARGS…]     builds it and runs `gcloud app deploy …/app.yaml ARGS…`
// The folder is <workspace root>/.deploy/<module>. Both take the learner's values from the
// environment (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_TLS_CA, VPC_ACCESS_CONNECTOR) and
// stop if app.yaml still holds a placeholder, or if an argument is empty.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  deployCommand,
  emptyArgumentReport,
  placeholderReport,
  prepareDeployFolder,
  workspaceRoot,
} from './deploy.js';

const [action, ...args] = process.argv.slice(2);
const moduleDir = process.cwd();
// Where the user typed the command: npm runs this script in the module folder.
const userDir = process.env.INIT_CWD ?? moduleDir;
const fromUser = (path: string) => relative(userDir, path) || '.';

if (action !== 'prepare' && action !== 'deploy') {
  process.stderr.write('usage: visitme-deploy prepare | deploy [gcloud app deploy arguments]\n');
  process.exit(2);
}
const empty = emptyArgumentReport(args, fromUser(join(moduleDir, 'README.md')));
if (empty) {
  process.stderr.write(empty);
  process.exit(2);
}

// The bundle includes the shared package's built code: build the module and what it uses,
// quietly (the repository's one way to build before a command: it shows turbo's output only
// when the build fails).
const { name } = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
const root = workspaceRoot(moduleDir);
const built = spawnSync(join(root, 'scripts', 'build-quietly'), [`--filter=${name}...`], {
  cwd: root,
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

let folder;
try {
  folder = await prepareDeployFolder(moduleDir);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const command = deployCommand(folder, args, userDir);
if (folder.placeholders.length > 0) {
  process.stderr.write(
    placeholderReport(folder.placeholders, {
      appYaml: fromUser(join(moduleDir, 'app.yaml')),
      deployedYaml: fromUser(join(folder.dir, 'app.yaml')),
      readme: fromUser(join(moduleDir, 'README.md')),
      gcloud: command.join(' '),
    }),
  );
  process.exit(1);
}
process.stdout.write(
  `Deploy folder: ${fromUser(folder.dir)}\n` +
    `  runtime Node.js ${folder.nodeEngine}; dependencies: ${Object.entries(folder.dependencies)
      .map(([dep, version]) => `${dep}@${version}`)
      .join(', ')}\n` +
    (folder.filled.length > 0
      ? `  app.yaml from the environment: ${folder.filled.join(', ')}\n`
      : '') +
    (action === 'deploy'
      ? `Deploying: ${command.join(' ')}\n`
      : `Deploy with:\n  ${command.join(' ')}\n`),
);
if (action === 'deploy') {
  const deployed = spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', cwd: userDir });
  if (deployed.error) {
    process.stderr.write(
      `Cannot run gcloud (${deployed.error.message}): install the Google Cloud CLI.\n`,
    );
    process.exit(1);
  }
  process.exit(deployed.status ?? 1);
}
