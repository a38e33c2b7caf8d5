// `npm start` at the repository root runs this: see stack.ts.
import { main, stopAll } from './stack.js';

main().catch((error: Error) => {
  process.stderr.write(`[stack] ${error.message}\n`);
  void stopAll(1);
});
