/**
 * Every benchmark in turn: language detection, ingest (throughput, ceilings, catch-up), serving
 * (getFeedSkeleton against a bare node:http ceiling) and memory. Prints each table and writes all
 * figures to bench/results/latest.json. Exits non-zero only when a benchmark crashes: a missed
 * target is a figure, not a failure.
 *
 *   npm run bench [-- --quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { run as ingest } from './ingest.ts'
import { run as lang } from './lang.ts'
import { run as serve } from './serve.ts'
import { ROOT } from './support/proc.ts'

const quick = process.argv.includes('--quick')
const benches: [string, (o: { quick: boolean }) => Promise<Record<string, number>>][] = [
  ['lang', lang],
  ['ingest', ingest],
  ['serve', serve],
]

const started = performance.now()
const figures: Record<string, number> = {}
const timings: Record<string, number> = {}
for (const [name, bench] of benches) {
  const t = performance.now()
  Object.assign(figures, await bench({ quick }))
  timings[name] = Math.round((performance.now() - t) / 1000)
}
const dir = `${ROOT}bench/results`
mkdirSync(dir, { recursive: true })
const result = {
  date: new Date().toISOString(),
  quick,
  machine: {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
  },
  seconds: { ...timings, total: Math.round((performance.now() - started) / 1000) },
  figures,
}
writeFileSync(`${dir}/latest.json`, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nall figures: bench/results/latest.json (${result.seconds.total} s)`)
