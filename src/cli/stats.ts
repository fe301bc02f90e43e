import { Command } from 'commander'
import { options } from '../config.ts'
import { createDb } from '../db/index.ts'
import {
  countByLanguage,
  countFeeds,
  countPosts,
  cursorStates,
  fileBytes,
  postTimeRange,
  storageStats,
} from '../db/stats.ts'
import { createRegistry, feeds } from '../feeds/index.ts'
import { formatAge, formatBytes, formatCount } from '../format.ts'

const DAY_MS = 86_400_000

interface StatsOptions {
  db: string
  dbAuthToken?: string
  json?: boolean
}

/** What `feedgen stats --json` prints: exact counts, times as ISO 8601. */
export interface StatsReport {
  db: {
    /** the file, for a local database */
    path: string | null
    /** pages times page size */
    bytes: number
    fileBytes: number | null
    walBytes: number | null
    freePages: number
    autoVacuum: string
  }
  posts: { total: number; last24h: number; oldest: string | null; newest: string | null }
  languages: { lang: string; total: number; last24h: number }[]
  /** null counts: the feed does not count (it has no `count`) */
  feeds: { id: string; displayName: string; total: number | null; last24h: number | null }[]
  cursors: {
    source: string
    cursor: number
    /** the network time the cursor stands for, where it is one (Jetstream) */
    time: string | null
    updatedAt: string
    ageSeconds: number
  }[]
}

/**
 * `feedgen stats`: what the database holds, read from the file with no server running (beside a
 * running one too: WAL readers do not block the writer). Counts are exact, so on a large database
 * it reads the language index once, which takes a few seconds.
 */
export function statsCommand(): Command {
  return new Command('stats')
    .description(
      'posts per language and per feed (last 24 h and total), database size, cursors and their age',
    )
    .addOption(options.db())
    .addOption(options.dbAuthToken())
    .option('--json', 'one JSON object instead of tables')
    .action(async (opts: StatsOptions) => {
      const report = await collectStats(opts)
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatStats(report))
    })
}

async function collectStats(opts: StatsOptions): Promise<StatsReport> {
  await using handle = await createDb(opts.db, { authToken: opts.dbAuthToken, mustExist: true })
  const { db, path } = handle
  const now = Date.now()
  const since = now - DAY_MS
  const storage = await storageStats(handle.client)
  const range = await postTimeRange(db)
  const registry = createRegistry(feeds)
  const totals = await countFeeds(db, registry)
  const recent = await countFeeds(db, registry, { since })
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  return {
    db: {
      path,
      bytes: storage.bytes,
      fileBytes: path ? fileBytes(path) : null,
      walBytes: path ? fileBytes(`${path}-wal`) : null,
      freePages: storage.freePages,
      autoVacuum: storage.autoVacuum,
    },
    posts: {
      total: (await countPosts(db)).count,
      last24h: (await countPosts(db, { since })).count,
      oldest: iso(range.oldest),
      newest: iso(range.newest),
    },
    languages: (await countByLanguage(db, since)).map((l) => ({
      lang: l.lang,
      total: l.total,
      last24h: l.recent,
    })),
    feeds: [...registry.values()].map((feed, i) => ({
      id: feed.id,
      displayName: feed.displayName,
      total: totals[i]?.count ?? null,
      last24h: recent[i]?.count ?? null,
    })),
    cursors: (await cursorStates(db)).map((c) => ({
      source: c.source,
      cursor: c.cursor,
      time: iso(c.time),
      updatedAt: new Date(c.updatedAt).toISOString(),
      ageSeconds: Math.max(0, Math.round((now - c.updatedAt) / 1000)),
    })),
  }
}

/** Columns: the first left-aligned, the rest right-aligned. */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return `${[line(head), ...rows.map(line)].join('\n')}\n`
}

const countCell = (n: number | null) => (n === null ? '-' : formatCount(n))

export function formatStats(r: StatsReport): string {
  const disk =
    r.db.fileBytes === null
      ? ''
      : ` (file ${formatBytes(r.db.fileBytes)}, WAL ${formatBytes(r.db.walBytes ?? 0)})`
  const out = [
    `database  ${r.db.path ?? 'remote'}: ${formatBytes(r.db.bytes)}${disk}, ${formatCount(r.db.freePages)} free pages, auto-vacuum ${r.db.autoVacuum}`,
    `posts     ${formatCount(r.posts.total)} stored, ${formatCount(r.posts.last24h)} in the last 24 h${
      r.posts.oldest ? `; from ${r.posts.oldest} to ${r.posts.newest}` : ''
    }`,
    '',
    table(
      ['language', 'last 24 h', 'total'],
      r.languages.map((l) => [l.lang, formatCount(l.last24h), formatCount(l.total)]),
    ),
    table(
      ['feed', 'last 24 h', 'total'],
      r.feeds.map((f) => [f.id, countCell(f.last24h), countCell(f.total)]),
    ),
    r.cursors.length === 0
      ? 'cursors   none committed yet\n'
      : table(
          ['cursor', 'position', 'stands for', 'committed'],
          r.cursors.map((c) => [
            c.source,
            String(c.cursor),
            c.time ?? '-',
            `${formatAge(c.ageSeconds)} ago`,
          ]),
        ),
  ]
  return `${out.join('\n')}`
}
