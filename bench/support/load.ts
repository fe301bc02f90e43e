/**
 * Runs autocannon in a process of its own and reports its figures over IPC, so the load
 * generator neither shares a heap nor an event loop with what it measures.
 *
 *   fork('bench/support/load.ts', [JSON.stringify({ url, paths, connections, seconds })])
 */
import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  /** request paths, each connection cycles through them in order */
  paths: string[]
  /** `authorization` headers, the i-th request getting the (i mod n)-th */
  authorizations?: string[]
  connections: number
  seconds: number
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  /** connection errors, timeouts and non-2xx answers */
  errors: number
  requests: number
}

const o = JSON.parse(process.argv[2] ?? '{}') as LoadOptions
const result = await autocannon({
  url: o.url,
  connections: o.connections,
  duration: o.seconds,
  requests: o.paths.map((path, i) => {
    const authorization = o.authorizations?.[i % o.authorizations.length]
    return { method: 'GET', path, ...(authorization ? { headers: { authorization } } : {}) }
  }),
})
const report: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts + result.non2xx,
  requests: result.requests.total,
}
process.send?.(report)
process.disconnect?.()
