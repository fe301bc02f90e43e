/**
 * Serving: `feedgen serve` on a database of a million posts across languages, loaded with
 * getFeedSkeleton requests (first pages and deep cursors of several feeds) by autocannon at 10
 * and 50 connections, while it ingests the live network's pace of posts (so caches see real
 * commits). The ceiling is a bare `node:http` server answering an equal-sized body from memory.
 * Then memory: RSS while the same process ingests at full speed and serves.
 *
 *   node bench/serve.ts [--quick]
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { createDb, migrateDb } from '../src/db/index.ts'
import type { LoadOptions, LoadResult } from './support/load.ts'
import { startPlcStub } from './support/plc-stub.ts'
import {
  build,
  CLI,
  forkChild,
  procStats,
  ROOT,
  sampleRss,
  spawnServe,
  startReplay,
} from './support/proc.ts'
import { addFigures, MB, printTable, type Row } from './support/report.ts'
import { networkStepUs, type StreamOptions } from './support/workload.ts'

/** Bump when the generated database changes shape: the cached file is keyed by it. */
const DB_VERSION = 1
const POSTS = 1_000_000
const PUBLISHER = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const FEEDS = ['norwegian', 'bokmal', 'nynorsk', 'swedish', 'danish']
const LIMIT = 30
/** signed-in users in the service-auth run, each with a secp256k1 key as PDSs make them */
const ISSUERS = 20

// languages per thousand posts, roughly as on Bluesky, with the served Nordic feeds well filled
const LANG_SHARE: [string, number][] = [
  ['en', 420],
  ['ja', 170],
  ['pt', 110],
  ['de', 50],
  ['es', 50],
  ['fr', 40],
  ['ko', 30],
  ['nb', 40],
  ['nn', 10],
  ['sv', 40],
  ['da', 25],
  ['fi', 15],
]

/**
 * The database of `posts` posts, generated once with bulk SQL and cached under bench/results/
 * (keyed by DB_VERSION and the size). Posts are 17 ms apart, the newest an hour ago.
 */
export async function servingDb(posts = POSTS): Promise<string> {
  const dir = `${ROOT}bench/results`
  const path = join(dir, `serve-db-v${DB_VERSION}-${posts}.db`)
  if (existsSync(path)) return path
  mkdirSync(dir, { recursive: true })
  const building = `${path}.building`
  rmSync(building, { force: true })
  const started = performance.now()
  {
    await using handle = await createDb(`file:${building}`)
    await migrateDb(handle.db)
    const { client } = handle
    await client.execute('PRAGMA cache_size = -1000000')
    const cases: string[] = []
    let bound = 0
    for (const [lang, n] of LANG_SHARE) {
      bound += n
      cases.push(`WHEN x < ${bound} THEN '${lang}'`)
    }
    const langOf = `CASE ${cases.join(' ')} END`
    const text =
      'Just finished reading a great book about the history of the city and I cannot believe how fast this year is going by, the weather has been wonderful all week long.'
    const newest = Date.now() - 3_600_000
    const step = 17
    await client.batch(
      [
        `INSERT INTO posts (uri, cid, author, text, created_at, indexed_at, reply_root, reply_parent, declared_langs, detected_lang, lang_confidence)
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${posts - 1}),
           x(i, x) AS (SELECT i, (i * 7919) % 1000 FROM n),
           p(i, lang, author) AS (SELECT i, ${langOf}, 'did:plc:' || printf('%024d', (i * 104729) % 50000) FROM x)
         SELECT 'at://' || author || '/app.bsky.feed.post/3k' || printf('%011d', i),
           'bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi', author,
           substr('${text}', 1 + (i % 40), 20 + (i * 31) % 140),
           ${newest} - (${posts} - i) * ${step}, ${newest} - (${posts} - i) * ${step},
           NULL, NULL, json_array(lang), lang, 0.9
         FROM p`,
        `INSERT INTO post_langs (lang, indexed_at, uri, source)
         SELECT detected_lang, indexed_at, uri, 'both' FROM posts`,
        `INSERT INTO post_langs (lang, indexed_at, uri, source)
         SELECT 'no', indexed_at, uri, 'both' FROM posts WHERE detected_lang IN ('nb', 'nn')`,
      ],
      'write',
    )
    await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  }
  renameSync(building, path)
  for (const suffix of ['-wal', '-shm']) rmSync(`${building}${suffix}`, { force: true })
  console.log(
    `generated ${posts.toLocaleString('en-US')} posts in ${((performance.now() - started) / 1000).toFixed(1)} s: ${path}`,
  )
  return path
}

/** Feed requests for autocannon: half first pages, half cursors deep into each feed. */
async function requestPaths(dbPath: string, quick: boolean): Promise<string[]> {
  const db = createClient({ url: `file:${dbPath}` })
  const lang: Record<string, string> = {
    norwegian: 'no',
    bokmal: 'nb',
    nynorsk: 'nn',
    swedish: 'sv',
    danish: 'da',
  }
  const paths: string[] = []
  try {
    for (const [i, feed] of FEEDS.entries()) {
      const uri = encodeURIComponent(`at://${PUBLISHER}/app.bsky.feed.generator/${feed}`)
      for (const depth of quick ? [300, 3_000] : [300, 3_000, 10_000, 30_000]) {
        const rs = await db.execute({
          sql: 'SELECT indexed_at, uri FROM post_langs WHERE lang = ? ORDER BY indexed_at DESC, uri DESC LIMIT 1 OFFSET ?',
          args: [lang[feed] ?? '', depth + i],
        })
        const row = rs.rows[0]
        if (!row) continue
        const cursor = encodeURIComponent(`${row.indexed_at}::${row.uri}`)
        paths.push(`/xrpc/app.bsky.feed.getFeedSkeleton?feed=${uri}&limit=${LIMIT}`)
        paths.push(
          `/xrpc/app.bsky.feed.getFeedSkeleton?feed=${uri}&limit=${LIMIT}&cursor=${cursor}`,
        )
      }
    }
  } finally {
    db.close()
  }
  return paths
}

async function load(o: LoadOptions): Promise<LoadResult> {
  await using child = await forkChild<LoadResult>(`${ROOT}bench/support/load.ts`, [
    JSON.stringify(o),
  ])
  return child.ready
}

/** A copy of the cached database in a temp folder: serve writes to it. */
function dbCopy(source: string): { url: string; dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'feedgen-bench-'))
  const path = join(dir, 'feedgen.db')
  copyFileSync(source, path)
  return { url: `file:${path}`, dir, path }
}

/** serve's flags */
function serveArgs(dbUrl: string, jetstreamUrl: string, plcUrl?: string): string[] {
  return [
    ...['--db', dbUrl, '--port', '0', '--listen-host', '127.0.0.1', '--log-level', 'info'],
    ...['--publisher-did', PUBLISHER, '--jetstream-url', jetstreamUrl],
    ...(plcUrl ? ['--plc-url', plcUrl] : []),
  ]
}

function liveStream(count: number, quick: boolean): StreamOptions {
  return {
    profile: 'network',
    count,
    seed: quick ? 3 : 4,
    authors: 20_000,
    // posts-only subscription: the network's post rate is what reaches feedgen
    stepUs: networkStepUs(0.2),
    startUs: Date.now() * 1000,
  }
}

export async function run(opts: { quick: boolean }): Promise<Record<string, number>> {
  build()
  const figures: Record<string, number> = {}
  const seconds = opts.quick ? 3 : 10
  const source = await servingDb()
  const paths = await requestPaths(source, opts.quick)
  const firstPages = paths.filter((p) => !p.includes('cursor='))
  const deepPages = paths.filter((p) => p.includes('cursor='))
  const personalPaths = paths
    .filter((p) => p.includes('%2Fswedish&'))
    .map((p) => p.replace('%2Fswedish&', '%2Fpersonal&'))

  // 1. getFeedSkeleton while ingesting at the network's pace
  const copy = dbCopy(source)
  const rows: Row[] = []
  let body = ''
  try {
    await using replay = await startReplay({
      stream: liveStream(1_000_000, opts.quick),
      paced: true,
    })
    await using plc = await startPlcStub(ISSUERS)
    // with a personalised feed (support/serve-bench.js): the Swedish feed, for signed-in users
    await using feedgen = await spawnServe(`${ROOT}bench/support/serve-bench.js`, [
      'personal',
      ...serveArgs(copy.url, replay.ready.url, plc.url),
    ])
    const base = `http://127.0.0.1:${feedgen.ready.port}`
    body = await (await fetch(`${base}${paths[0]}`)).text()
    const described = await fetch(`${base}/xrpc/app.bsky.feed.describeFeedGenerator`)
    const serviceDid = ((await described.json()) as { did: string }).did
    const authorizations = await plc.tokens(serviceDid, 'app.bsky.feed.getFeedSkeleton')
    const warm = await load({ url: base, paths, connections: 10, seconds: 1 })
    if (warm.errors > 0) throw new Error(`${warm.errors} errors while warming up`)
    const runs: [string, string[], number, string[]?][] = [
      ['', paths, 10],
      ['', paths, 50],
      [', first pages only', firstPages, 50],
      [', deep pages only', deepPages, 50],
      [`, signed in (${ISSUERS} users; tokens not checked)`, paths, 50, authorizations],
      [', personalised feed (every token checked)', personalPaths, 50, authorizations],
    ]
    const served = []
    // RSS before the personalised run (the last) and after it: its signature checks on the
    // thread pool leave the malloc heap ~25 MB bigger (bench/README.md)
    let rssPublic = 0
    for (const [, set, connections, auth] of runs) {
      if (served.length === runs.length - 1) rssPublic = procStats(feedgen.pid).rssBytes
      const o = { url: base, paths: set, connections, seconds }
      const result = await load(auth ? { ...o, authorizations: auth } : o)
      if (auth && result.errors > 0) throw new Error(`${result.errors} signed-in requests failed`)
      served.push(result)
    }
    const rss = procStats(feedgen.pid).rssBytes
    await feedgen.stop()
    // the ceiling runs alone, as feedgen did
    await using bare = await forkChild<{ port: number }>(`${ROOT}bench/support/bare-http.ts`, [
      body,
    ])
    const bareUrl = `http://127.0.0.1:${bare.ready.port}`
    const ceilings: Record<number, LoadResult> = {}
    for (const connections of [10, 50]) {
      ceilings[connections] = await load({ url: bareUrl, paths, connections, seconds })
    }
    for (const [i, [what, , connections]] of runs.entries()) {
      const ours = served[i] as LoadResult
      const ceiling = ceilings[connections] as LoadResult
      const at = `at ${connections} connections${what}`
      const bareName = 'bare node:http'
      rows.push(
        {
          figure: `req/s ${at}`,
          value: ours.rps,
          unit: '',
          ...(connections === 50 && what === ''
            ? { target: ['>=', ceiling.rps / 2] as const }
            : {}),
          ceiling: ceiling.rps,
          ceilingName: bareName,
        },
        {
          figure: `p50 ${at}`,
          value: ours.p50,
          unit: 'ms',
          ceiling: ceiling.p50,
          ceilingName: bareName,
        },
        {
          figure: `p99 ${at}`,
          value: ours.p99,
          unit: 'ms',
          target: ['<=', 10],
          ceiling: ceiling.p99,
          ceilingName: bareName,
        },
        { figure: `errors ${at}`, value: ours.errors, unit: '', target: ['<=', 0] },
      )
    }
    rows.push(
      {
        figure: 'RSS after serving public feeds',
        value: rssPublic / MB,
        unit: 'MB',
        target: ['<=', 150],
      },
      {
        figure: 'RSS after the personalised feed too',
        value: rss / MB,
        unit: 'MB',
        target: ['<=', 150],
      },
    )
  } finally {
    rmSync(copy.dir, { recursive: true, force: true })
  }
  printTable(
    `Serving getFeedSkeleton (limit ${LIMIT}; ${paths.length} paths, half first pages, half cursors 300 to 30,000 posts deep, of ${FEEDS.length} feeds) on ${POSTS.toLocaleString('en-US')} posts, ingesting at the network's pace; ${seconds} s per run, response ${body.length} B`,
    rows,
  )
  addFigures(figures, 'serve', rows)

  // 2. memory: ingesting a backlog at full speed while serving; the backlog outlasts the load
  const copy2 = dbCopy(source)
  const memory: Row[] = []
  try {
    const backlog = liveStream(opts.quick ? 200_000 : 600_000, opts.quick)
    backlog.startUs = Date.now() * 1000 - backlog.count * (backlog.stepUs ?? 0) - 60_000_000
    await using replay = await startReplay({ stream: backlog })
    await using feedgen = await spawnServe(CLI, [
      'serve',
      ...serveArgs(copy2.url, replay.ready.url),
    ])
    const rss = sampleRss(feedgen.pid, 50)
    const base = `http://127.0.0.1:${feedgen.ready.port}`
    const cpu0 = procStats(feedgen.pid).cpuS
    const result = await load({ url: base, paths, connections: 10, seconds })
    const stats = procStats(feedgen.pid)
    const { median } = rss.stop()
    const db = createClient({ url: copy2.url })
    const since = Math.floor(backlog.startUs / 1000)
    const rs = await db.execute({
      sql: 'SELECT count(*) AS n FROM posts WHERE indexed_at >= ?',
      args: [since],
    })
    db.close()
    memory.push(
      { figure: 'peak RSS', value: stats.peakRssBytes / MB, unit: 'MB', target: ['<=', 150] },
      { figure: 'median RSS', value: median / MB, unit: 'MB', target: ['<=', 150] },
      { figure: 'req/s while ingesting', value: result.rps, unit: '' },
      { figure: 'p99 while ingesting', value: result.p99, unit: 'ms' },
      { figure: 'errors while ingesting', value: result.errors, unit: '', target: ['<=', 0] },
      { figure: 'posts stored while serving', value: Number(rs.rows[0]?.n) / seconds, unit: '/s' },
      { figure: 'CPU use', value: (stats.cpuS - cpu0) / seconds, unit: 'cores' },
      {
        figure: 'generated database bytes per post',
        value: statSync(source).size / POSTS,
        unit: 'B',
      },
    )
  } finally {
    rmSync(copy2.dir, { recursive: true, force: true })
  }
  printTable(
    `Memory: ingesting a backlog at full speed while serving (10 connections, ${seconds} s)`,
    memory,
  )
  addFigures(figures, 'memory', memory)
  return figures
}

if (import.meta.main) await run({ quick: process.argv.includes('--quick') })
