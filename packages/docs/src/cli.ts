// npm run docs: rewrites the README code blocks from the source they name, then says which
// hunks of a lesson no README shows yet.
import { relative } from 'node:path';
import { commandLine } from '@visitme/stages/command-line';
import { ROOT, lessonCoverage, readmes, syncAll } from './code-blocks.js';

commandLine({}, 'usage: npm run docs   (it takes no options)'); // --help, or a mistake

let rewritten;
try {
  rewritten = syncAll();
} catch (error) {
  // A README that shows what its stage does not have: the learner's to fix, said plainly.
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
for (const { readme, source, region } of rewritten) {
  process.stdout.write(
    `rewrote ${readme}: ${source}${region.startsWith('hunk ') ? ', ' : '#'}${region}\n`,
  );
}
process.stdout.write(rewritten.length ? '' : 'Every README code block matches its source.\n');

let missing = 0;
for (const readme of readmes()) {
  for (const hunk of lessonCoverage(readme).missing) {
    missing += 1;
    process.stdout.write(
      `${relative(ROOT, readme)} does not show hunk ${hunk.number} of ${hunk.path}; ` +
        `add <!-- diff: ${hunk.path}#${hunk.number} --> and an empty \`\`\`diff block\n`,
    );
  }
}
process.exitCode = missing ? 1 : 0;
