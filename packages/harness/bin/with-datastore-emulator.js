#!/usr/bin/env node
// The built CLI does not exist until `npm run build`, and npm links only files that exist at
// install time: this shim does, and loads the CLI when run.
import '../dist/src/with-datastore-emulator.js';
