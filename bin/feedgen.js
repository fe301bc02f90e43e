#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm run build`, also on `prepare`).
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv)
