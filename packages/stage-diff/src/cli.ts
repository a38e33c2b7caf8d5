// npm run diff [-- [--stat] [FROM TO]]: the lesson between two stages; with no stages, between
// each stage and the next. `exercise` as FROM or TO is the learner's copy of the other stage
// (npm run exercise). Coloured on a terminal, plain otherwise.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { styleText } from 'node:util';
import { exercisesDir, findStage, stages } from '@visitme/stages';
import { commandLine } from '@visitme/stages/command-line';
import { folderDiff, stageDiff, type FileChange } from './stage-diff.js';

const all = stages();
const names = all.map((stage) => stage.name);
const usage =
  `usage: npm run diff [-- [--stat] [FROM TO]]   stages: ${names.join(', ')} (or mod1, 12, …)\n` +
  `       npm run diff -- exercise STAGE     your copy (npm run exercise) against the official STAGE`;
const { values, positionals } = commandLine(
  {
    allowPositionals: true,
    options: { stat: { type: 'boolean' } },
  },
  usage,
);
if (positionals.length !== 0 && positionals.length !== 2) {
  process.stdout.write(`${usage}\n`);
  process.exit(2);
}

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (style: Parameters<typeof styleText>[0], text: string) =>
  colour ? styleText(style, text) : text;

let pairs: Array<{ title: string; changes: () => FileChange[] }>;
try {
  if (positionals.length === 2 && positionals.includes('exercise')) {
    const official = findStage(positionals.find((name) => name !== 'exercise') ?? '', all);
    const stage = official.name;
    const copy = join(exercisesDir(), stage);
    if (!existsSync(copy))
      throw new Error(`No exercise for ${stage}: npm run exercise -- ${stage}`);
    const mine = { label: 'exercise', dir: copy };
    const theirs = { label: stage, dir: official.dir };
    const [from, to] = positionals[0] === 'exercise' ? [mine, theirs] : [theirs, mine];
    const name = (side: typeof mine) =>
      side === mine ? `your ${relative(process.cwd(), copy)}` : `the official ${stage}`;
    pairs = [{ title: `${name(from)} → ${name(to)}`, changes: () => folderDiff(from, to) }];
  } else {
    // With no stages named: each stage against the one it starts from, as its codelab does.
    const stagePairs: Array<[string, string]> =
      positionals.length === 2
        ? [[findStage(positionals[0]!, all).name, findStage(positionals[1]!, all).name]]
        : all.flatMap((stage) =>
            stage.start ? [[findStage(stage.start, all).name, stage.name]] : [],
          );
    pairs = stagePairs.map(([from, to]) => ({
      title: `${from} → ${to}`,
      changes: () => stageDiff(from, to),
    }));
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}

for (const pair of pairs) {
  const changes = pair.changes();
  process.stdout.write(paint('bold', `\n### ${pair.title}\n\n`));
  if (changes.length === 0) process.stdout.write('no differences\n');
  else if (values.stat) process.stdout.write(stat(changes));
  else process.stdout.write(changes.map(({ patch }) => coloured(patch)).join('\n'));
}

function coloured(patch: string): string {
  return patch
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('Index:'))
        return paint('bold', line);
      if (line.startsWith('@@')) return paint('cyan', line);
      if (line.startsWith('+')) return paint('green', line);
      if (line.startsWith('-')) return paint('red', line);
      return line;
    })
    .join('\n');
}

function stat(changes: FileChange[]): string {
  const width = Math.max(...changes.map(({ path }) => path.length));
  // Like git's: one mark a line, scaled down so the longest bar is 50 marks.
  const scale = Math.min(1, 50 / Math.max(...changes.map((c) => c.added + c.removed)));
  const bar = (n: number) => Math.max(n > 0 ? 1 : 0, Math.round(n * scale));
  const lines = changes.map(
    ({ path, added, removed }) =>
      ` ${path.padEnd(width)} | ${String(added + removed).padStart(3)} ` +
      paint('green', '+'.repeat(bar(added))) +
      paint('red', '-'.repeat(bar(removed))),
  );
  const added = changes.reduce((sum, change) => sum + change.added, 0);
  const removed = changes.reduce((sum, change) => sum + change.removed, 0);
  return `${lines.join('\n')}\n ${changes.length} files changed, ${added} insertions(+), ${removed} deletions(-)\n`;
}
