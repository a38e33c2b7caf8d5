// The first stage's app served by `serve()` as every stage's server entry serves it, with
// Node's request timeouts shortened, so a test can watch a slow client being cut off in seconds.
import { serve } from '@visitme/shared';
import { STAGES, importStage } from './stages.js';

const { createApp } = await importStage(STAGES[0]!);
serve(() => createApp({}), {
  timeouts: { headersTimeout: 1000, requestTimeout: 2000, connectionsCheckingInterval: 100 },
});
