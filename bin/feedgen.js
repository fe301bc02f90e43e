#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8
// The published entry point runs the compiled CLI (built by `npm run build`, also on `prepare`).
// V8 sizes the young generation by the machine's memory (32 MB semi-spaces on 24 GB, which ingest
// fills); 8 MB costs no throughput and ~100 MB of RSS less. glibc gives every thread that
// allocates an arena of its own (up to 8 per core), and the thread pool's signature checks made
// ~25 MB of them; two arenas serve one event loop and its helpers (bench/README.md). The
// Dockerfile sets the same in NODE_OPTIONS and MALLOC_ARENA_MAX.
import { registerModuleHooks } from '../dist/cli/module-hooks.js'

// before the CLI's modules are loaded (see module-hooks.ts), so not a static import
registerModuleHooks()
const { main } = await import('../dist/cli/main.js')

process.exitCode = await main(process.argv)
