#!/usr/bin/env node
// The `dynmcp-server` command: the built server (`pnpm build` writes dist/). A file of its own, so
// that `pnpm install` can link the command on a fresh clone, before anything is built.
import '../dist/bin.js';
