// A module folder cannot be deployed as it is: it depends on a workspace package and on the
// root lockfile, and App Engine uploads only the folder that holds app.yaml. This makes a
// folder that can: esbuild bundles the module with the shared package's code into one file
// (registry packages stay external), and npm writes a lockfile for exactly those packages.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { parse } from 'yaml';

export interface DeployFolder {
  /** The folder to hand to `gcloud app deploy`. */
  dir: string;
  /** The registry packages the bundle imports, at the versions the workspace resolved. */
  dependencies: Record<string, string>;
  /** `22.x` for runtime `nodejs22`: what `engines.node` says. */
  nodeEngine: string;
}

const WORKSPACE_SCOPE = '@visitme/';

/** Registry packages stay `import`s, resolved by `npm ci` on App Engine; workspace code is bundled. */
const externalRegistryPackages: Plugin = {
  name: 'external-registry-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path }) =>
      path.startsWith(WORKSPACE_SCOPE) ? undefined : { path, external: true },
    );
  },
};

/** `express` for `express/lib/x`, `@scope/name` for `@scope/name/x`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The workspace root: the nearest folder above `from` whose package.json has workspaces. */
export function workspaceRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).workspaces) return dir;
    if (dirname(dir) === dir) throw new Error(`No npm workspace root above ${from}`);
  }
}

/** `22.x` for `runtime: nodejs22`, the only form App Engine's Node.js runtimes take. */
export function nodeEngineFor(appYaml: string): string {
  const runtime = String(parse(appYaml)?.runtime ?? '');
  const major = /^nodejs(\d+)$/.exec(runtime)?.[1];
  if (!major)
    throw new Error(
      `app.yaml's runtime is "${runtime}", not a Node.js runtime (nodejs22, nodejs24)`,
    );
  return `${major}.x`;
}

/** Builds `<module>/.deploy`, App Engine's view of the module. */
export async function prepareDeployFolder(moduleDir: string): Promise<DeployFolder> {
  const root = workspaceRoot(moduleDir);
  const manifest = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
  const appYaml = readFileSync(join(moduleDir, 'app.yaml'), 'utf8');
  const nodeEngine = nodeEngineFor(appYaml);
  const dir = join(moduleDir, '.deploy');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  // Same path as in the module (dist/src/server.js), so `npm start` is the same command and
  // the shared page's views sit where the shared code looks for them (../../views).
  const result = await build({
    entryPoints: [join(moduleDir, 'src', 'server.ts')],
    outfile: join(dir, 'dist', 'src', 'server.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${nodeEngine.split('.')[0]}`,
    plugins: [externalRegistryPackages],
    metafile: true,
    logLevel: 'warning',
  });
  const imported = new Set(
    Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((entry) => entry.external && !entry.path.startsWith('node:'))
      .map((entry) => packageName(entry.path)),
  );

  // Also what the module declares but loads by name at run time: Express requires its view
  // engine (pug) itself.
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!name.startsWith(WORKSPACE_SCOPE)) imported.add(name);
  }
  const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const dependencies: Record<string, string> = {};
  for (const name of [...imported].sort()) {
    const locked = rootLock.packages?.[`node_modules/${name}`]?.version;
    if (!locked)
      throw new Error(`${name} is imported but not in the workspace lockfile: npm install it`);
    dependencies[name] = locked;
  }

  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: manifest.name,
        version: manifest.version,
        private: true,
        license: manifest.license,
        type: 'module',
        engines: { node: nodeEngine },
        scripts: {
          start: 'node dist/src/server.js',
          // The bundle is built already: nothing to build on App Engine.
          'gcp-build': '',
        },
        dependencies,
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(join(dir, 'app.yaml'), appYaml);
  const require = createRequire(join(moduleDir, 'package.json'));
  const sharedDir = dirname(require.resolve('@visitme/shared/package.json'));
  cpSync(join(sharedDir, 'views'), join(dir, 'views'), { recursive: true });
  // Files the app reads at run time from its folder, such as Memorystore's server CA.
  for (const name of readdirSync(moduleDir).filter((name) => name.endsWith('.pem'))) {
    cpSync(join(moduleDir, name), join(dir, name));
  }
  writeFileSync(
    join(dir, '.gcloudignore'),
    [
      '# App Engine installs dependencies itself (npm ci).',
      '.gcloudignore',
      'node_modules/',
      '',
    ].join('\n'),
  );

  // Start from the workspace lockfile, so npm keeps every version it resolved there and
  // only drops what this folder does not use.
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(rootLock));
  execFileSync(
    'npm',
    [
      'install',
      '--package-lock-only',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return { dir, dependencies, nodeEngine };
}

/** What to run to deploy it, as a copyable command line. */
export function deployCommand(
  folder: DeployFolder,
  extraArgs: string[],
  cwd = process.cwd(),
): string[] {
  return [
    'gcloud',
    'app',
    'deploy',
    join(relative(cwd, folder.dir) || '.', 'app.yaml'),
    ...extraArgs,
  ];
}
