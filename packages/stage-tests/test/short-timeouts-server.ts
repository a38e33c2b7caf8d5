// Module 1's app served by `serve()` as every stage's server entry serves it, with Node's
// request timeouts shortened, so a test can watch a slow client being cut off in seconds.
import { serve } from '@visitme/shared';
import { createApp } from 'mod1-baseline';

serve(createApp, {
  timeouts: { headersTimeout: 1000, requestTimeout: 2000, connectionsCheckingInterval: 100 },
});
