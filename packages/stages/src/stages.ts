// A stage is a folder: every folder in modules/ whose package.json has a `visitme` field. The
// tools (npm start, diff, exercise, check, deploy, docs, bench) and the stage tests find the
// stages here, and learn from that field and the dependencies what each one is:
//
//   "visitme": {
//     "module": 13,                the codelab's module number: the stages' order
//     "start": "mod12-memcache"    the stage the codelab STARTs from (none for the first)
//   }
//
// and from its dependencies what it caches in: `ioredis`, Redis; `node-cache`, its memory.
// Its README.md explains its behaviours (the README's "Add a stage" says under which headings).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const MODULES_DIR = join(ROOT, 'modules');

/**
 * Where `npm run exercise` puts a learner's copies (git-ignored), one folder per stage.
 * VISITME_EXERCISES_DIR moves it (the tests use their own, beside it, so that the copies'
 * `../../tsconfig.base.json` and the root node_modules are found as from a stage folder).
 */
export function exercisesDir(): string {
  return process.env.VISITME_EXERCISES_DIR ?? join(ROOT, 'exercises');
}

/** The cache a stage keeps the visits in, known from its dependencies. */
export type Cache = 'node-cache' | 'redis';

export interface Stage {
  /** The folder's name, which is also its workspace's: `mod13-redis`. */
  name: string;
  dir: string;
  module: number;
  /** The stage the codelab starts from; undefined for the first. */
  start?: string;
  cache?: Cache;
  dependencies: Record<string, string>;
  /** Its server entry, built: what `npm start` runs in the folder. */
  server: string;
}

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  visitme?: { module?: unknown; start?: unknown };
}

/** The stage in folder `dir`, or undefined when its package.json says it is none. */
export function readStage(dir: string): Stage | undefined {
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const { visitme } = manifest;
  if (!visitme) return undefined;
  if (!Number.isInteger(visitme.module)) {
    throw new Error(`${manifestPath}: "visitme.module" must be the module's number`);
  }
  const dependencies = manifest.dependencies ?? {};
  return {
    name: manifest.name ?? dir,
    dir,
    module: visitme.module as number,
    ...(typeof visitme.start === 'string' && { start: visitme.start }),
    ...(dependencies.ioredis
      ? { cache: 'redis' }
      : dependencies['node-cache'] && { cache: 'node-cache' }),
    dependencies,
    server: join(dir, 'dist', 'src', 'server.js'),
  };
}

/** Every stage in `modulesDir`, in module order. */
export function stages(modulesDir = MODULES_DIR): Stage[] {
  return readdirSync(modulesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => readStage(join(modulesDir, entry.name)) ?? [])
    .sort((a, b) => a.module - b.module);
}

/** `mod12`, `12` or `mod12-memcache`: that stage, or an error listing the stages. */
export function findStage(name: string, all = stages()): Stage {
  const wanted = /^\d+$/.test(name) ? Number(name) : undefined;
  const match = all.find(
    (stage) => stage.name === name || stage.module === wanted || stage.name.split('-')[0] === name,
  );
  if (!match) {
    throw new Error(`No stage "${name}". There are: ${all.map((stage) => stage.name).join(', ')}`);
  }
  return match;
}

/** The stage a stage starts from, as its package.json names it. */
export function startOf(stage: Stage, all = stages()): Stage | undefined {
  return stage.start === undefined ? undefined : findStage(stage.start, all);
}

/** `Module 13 README`, how a learner finds a stage's README. */
export function readmeName(stage: Pick<Stage, 'module'>): string {
  return `Module ${stage.module} README`;
}
