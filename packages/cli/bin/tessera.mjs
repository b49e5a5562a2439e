#!/usr/bin/env node
// The `tessera` command: the CLI compiled at install time (packages/cli/build.mjs, run by the root `prepare`), so
// that it starts without transpiling anything (issue 15: `tessera --help` within 0.5 s).
import "../dist/tessera.mjs"
