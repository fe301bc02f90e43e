#!/usr/bin/env -S node --max-semi-space-size=8
// The published entry point runs the compiled CLI (built by `npm run build`, also on `prepare`).
// V8 sizes the young generation by the machine's memory (32 MB semi-spaces on 24 GB, which ingest
// fills); 8 MB costs no throughput and ~100 MB of RSS less (bench/README.md). The Dockerfile sets
// the same flag in NODE_OPTIONS.
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv)
