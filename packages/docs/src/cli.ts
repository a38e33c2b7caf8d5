// npm run docs: rewrites the README code blocks from the source they name.
import { syncAll } from './code-blocks.js';

const rewritten = syncAll();
for (const { readme, source, region } of rewritten) {
  process.stdout.write(`rewrote ${readme}: ${source}#${region}\n`);
}
process.stdout.write(rewritten.length ? '' : 'Every README code block matches its source.\n');
