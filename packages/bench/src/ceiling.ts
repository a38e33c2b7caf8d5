// The fastest any stage could be here: the same Express app, with the same settings, and the
// same page, rendered from ten visits held in memory, with no store and no cache. Served as
// every stage's server entry serves its app: PORT, the same server settings, SIGTERM.
import { serve } from '@visitme/shared';
import { pageApp, visits } from './page.js';

serve(() => pageApp((_req, res) => res.render('index', { visits })));
