#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm install` through "prepare").
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`fraudwatch: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
