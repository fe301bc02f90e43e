import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { AtUri } from '@atproto/syntax'
import { inArray } from 'drizzle-orm'
import type { RequestHandler, Response } from 'express'
import type { AppContext } from '../context.ts'
import { posts } from '../db/schema.ts'
import {
  type CursorState,
  countFeed,
  countPosts,
  cursorStates,
  postTimeRange,
  storageStats,
} from '../db/stats.ts'
import type { FeedModule } from '../feeds/feed.ts'
import { formatAge, formatBytes, formatCount } from '../format.ts'
import { feedUri } from './getFeedSkeleton.ts'

/**
 * The status page (`GET /`) and its data (`GET /status.json`): what an operator wants to see at a
 * glance. Everything is computed at most once per `CACHE_MS` however many people look, and each
 * query is bounded (counts stop at a limit, the rest are index lookups), so the page costs feed
 * serving a few milliseconds every few seconds, whatever the size of the database.
 */

const CACHE_MS = 5_000
const REFRESH_S = 10
/** counting the posts stored stops here (~1 ms); past it the count is estimated */
const POSTS_COUNT_LIMIT = 200_000
/** each feed's 24 h count stops here (~2 ms); past it the page says "at least" */
const FEED_COUNT_LIMIT = 100_000
const PREVIEW_POSTS = 3
const SNIPPET_CHARS = 160
/** the chart's span: 10 s buckets from `Metrics.recentRate()` */
const CHART_BUCKETS = 180
const DAY_MS = 86_400_000

export interface StatusSnapshot {
  version: string
  /** when this snapshot was taken (ISO 8601) */
  time: string
  serviceDid: string
  publisherDid: string
  source: {
    /** `jetstream`, `firehose`, or `none` (a read replica that does not ingest) */
    name: string
    /** null when this process does not ingest */
    connected: boolean | null
    /** now minus the network time of the newest committed event; null before the first */
    lagSeconds: number | null
    /** committed events per second in each 10 s, oldest first, the last half hour at most */
    eventsPerSecond: number[]
  }
  cursors: (CursorState & { ageSeconds: number })[]
  posts: {
    stored: number
    /** false: `stored` is an estimate (a large table is not counted row by row) */
    exact: boolean
    /** ms; null when empty */
    newest: number | null
  }
  db: { bytes: number }
  feeds: FeedStatus[]
}

export interface FeedStatus {
  id: string
  displayName: string
  uri: string
  /** posts in the last 24 h; null when the feed cannot count */
  last24h: number | null
  /** false: counting stopped at the limit, there are at least `last24h` */
  exact: boolean
  newest: PostPreview[]
  /** why there is no preview (a personalised feed, an error) */
  note?: string
}

export interface PostPreview {
  uri: string
  author: string
  /** the detected language, else the first declared one */
  lang: string | null
  text: string
  /** ms */
  time: number | null
  /** the post in the Bluesky app */
  url: string
}

/** A snapshot getter: cached for `CACHE_MS`, and one computation at a time. */
function statusSource(ctx: AppContext): () => Promise<StatusSnapshot> {
  let cached: { at: number; value: Promise<StatusSnapshot> } | null = null
  return () => {
    const now = Date.now()
    if (!cached || now - cached.at > CACHE_MS) {
      const value = collectStatus(ctx)
      cached = { at: now, value }
      // a failed snapshot is not kept: the next request tries again
      value.catch(() => {
        if (cached?.value === value) cached = null
      })
    }
    return cached.value
  }
}

/** One query at a time, yielding between them: a feed request waits for one query at most. */
async function collectStatus(ctx: AppContext): Promise<StatusSnapshot> {
  const now = Date.now()
  const { metrics, db } = ctx
  const ingests = metrics.source !== 'none'
  const stored = await countPosts(db, { limit: POSTS_COUNT_LIMIT })
  await yieldToLoop()
  const { newest } = await postTimeRange(db)
  const feeds: FeedStatus[] = []
  for (const feed of ctx.feeds.values()) {
    await yieldToLoop()
    const count = await countFeed(db, feed, { since: now - DAY_MS, limit: FEED_COUNT_LIMIT })
    await yieldToLoop()
    feeds.push({
      id: feed.id,
      displayName: feed.displayName,
      uri: feedUri(ctx.publisherDid, feed.id),
      last24h: count.count,
      exact: count.exact,
      ...(await preview(ctx, feed)),
    })
  }
  await yieldToLoop()
  return {
    version: ctx.version,
    time: new Date(now).toISOString(),
    serviceDid: ctx.identity.serviceDid,
    publisherDid: ctx.publisherDid,
    source: {
      name: metrics.source,
      connected: ingests ? metrics.connected : null,
      lagSeconds:
        ingests && metrics.lastEventTime !== null
          ? Math.max(0, (now - metrics.lastEventTime) / 1000)
          : null,
      eventsPerSecond: metrics.recentRate().slice(-CHART_BUCKETS),
    },
    cursors: (await cursorStates(db)).map((c) => ({
      ...c,
      ageSeconds: Math.max(0, (now - c.updatedAt) / 1000),
    })),
    posts: { stored: stored.count, exact: stored.exact, newest },
    db: { bytes: (await storageStats(db.$client)).bytes },
    feeds,
  }
}

/** The feed's first page, as its readers get it, with the stored posts' text. */
async function preview(
  ctx: AppContext,
  feed: FeedModule,
): Promise<{ newest: PostPreview[]; note?: string }> {
  if (feed.requiresAuth) return { newest: [], note: 'personalised: no preview' }
  try {
    const page = await feed.skeleton({ db: ctx.db, limit: PREVIEW_POSTS })
    const uris = page.feed.map((item) => item.post)
    const rows =
      uris.length === 0
        ? []
        : await ctx.db
            .select({
              uri: posts.uri,
              text: posts.text,
              time: posts.indexedAt,
              detected: posts.detectedLang,
              declared: posts.declaredLangs,
            })
            .from(posts)
            .where(inArray(posts.uri, uris))
    const byUri = new Map(rows.map((r) => [r.uri, r]))
    return {
      newest: uris.map((uri) => {
        const at = new AtUri(uri)
        const row = byUri.get(uri)
        return {
          uri,
          author: at.hostname,
          lang: row ? (row.detected ?? row.declared[0] ?? null) : null,
          text: row ? snippet(row.text) : '',
          time: row?.time ?? null,
          url: `https://bsky.app/profile/${at.hostname}/post/${at.rkey}`,
        }
      }),
    }
  } catch (err) {
    ctx.logger.warn({ err, feed: feed.id }, 'status page: feed preview failed')
    return { newest: [], note: 'preview failed (see the logs)' }
  }
}

function snippet(text: string): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim())
  return chars.length > SNIPPET_CHARS
    ? `${chars.slice(0, SNIPPET_CHARS - 1).join('')}…`
    : chars.join('')
}

/**
 * `GET /` (HTML: one self-contained page, inline CSS and SVG, no script, refreshing itself) and
 * `GET /status.json`.
 */
export function statusHandlers(ctx: AppContext): { page: RequestHandler; json: RequestHandler } {
  const status = statusSource(ctx)
  const answer =
    (send: (res: Response, snapshot: StatusSnapshot) => void): RequestHandler =>
    async (_req, res) => {
      try {
        send(res.set('cache-control', 'no-store'), await status())
      } catch (err) {
        ctx.logger.error({ err }, 'status page: could not collect the status')
        res.status(500).json({ error: 'InternalServerError', message: 'status unavailable' })
      }
    }
  return {
    page: answer((res, snapshot) => {
      res
        // nothing but the page itself: inline styles, no script, no external request
        .set(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .type('html')
        .send(renderStatusPage(snapshot))
    }),
    json: answer((res, snapshot) => {
      res.json(snapshot)
    }),
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** For text and attribute values alike. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

function sourceState(s: StatusSnapshot['source']): { label: string; tone: string } {
  if (s.connected === null) return { label: 'not ingesting', tone: 'idle' }
  return s.connected ? { label: 'connected', tone: 'ok' } : { label: 'disconnected', tone: 'bad' }
}

/** Events per second as an area chart, newest on the right. */
function rateChart(rates: number[]): string {
  const w = 360
  const h = 64
  const max = Math.max(1, ...rates)
  const step = w / Math.max(1, CHART_BUCKETS - 1)
  const x0 = w - (rates.length - 1) * step
  const points = rates.map(
    (r, i) => `${(x0 + i * step).toFixed(1)},${(h - 2 - (r / max) * (h - 4)).toFixed(1)}`,
  )
  const line =
    points.length > 1
      ? `<path d="M${points.join(' L')} L${w},${h} L${x0.toFixed(1)},${h} Z" class="area"/><polyline points="${points.join(' ')}" class="line"/>`
      : ''
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="events per second over the last ${CHART_BUCKETS / 6} minutes, at most ${formatCount(max)}"><line x1="0" y1="${h - 1}" x2="${w}" y2="${h - 1}" class="axis"/>${line}</svg>`
}

function feedSection(feed: FeedStatus): string {
  const count =
    feed.last24h === null
      ? '<span class="muted">no count</span>'
      : `${feed.exact ? '' : '≥ '}${formatCount(feed.last24h)} posts in the last 24 h`
  const items = feed.newest
    .map(
      (p) => `<li class="post">
        <a class="author" href="${escapeHtml(p.url)}" rel="noopener noreferrer">${escapeHtml(p.author)}</a>
        ${p.lang ? `<span class="lang">${escapeHtml(p.lang)}</span>` : ''}
        <span class="text">${escapeHtml(p.text)}</span>
      </li>`,
    )
    .join('')
  const body = items
    ? `<ul class="posts">${items}</ul>`
    : `<p class="muted">${escapeHtml(feed.note ?? 'no posts yet')}</p>`
  return `<section class="feed" data-feed="${escapeHtml(feed.id)}">
    <h3>${escapeHtml(feed.displayName)} <span class="muted">${escapeHtml(feed.id)}</span></h3>
    <p class="uri"><code>${escapeHtml(feed.uri)}</code></p>
    <p class="count">${count}</p>
    ${body}
  </section>`
}

export function renderStatusPage(s: StatusSnapshot): string {
  const state = sourceState(s.source)
  const rates = s.source.eventsPerSecond
  const current = rates.at(-1) ?? 0
  const lag = s.source.lagSeconds
  const newestAge = s.posts.newest === null ? null : (Date.parse(s.time) - s.posts.newest) / 1000
  const cursors = s.cursors
    .map(
      (c) =>
        `<li><code>${escapeHtml(c.source)}</code> ${escapeHtml(c.cursor)} <span class="muted">committed ${formatAge(c.ageSeconds)} ago</span></li>`,
    )
    .join('')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_S}">
<title>feedgen ${escapeHtml(s.version)}: ${escapeHtml(state.label)}</title>
<style>
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #67707b; --line: #d9dee4; --accent: #1a73e8; --ok: #1e8e3e; --bad: #d93025; --idle: #80868b; }
@media (prefers-color-scheme: dark) { :root { --bg: #15181c; --card: #1e2227; --fg: #e6e8eb; --muted: #9aa3ad; --line: #333a42; --accent: #8ab4f8; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 12px; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0; } h2 { font-size: 15px; margin: 24px 0 8px; } h3 { font-size: 15px; margin: 0 0 4px; }
.muted { color: var(--muted); font-weight: normal; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; }
.tile, .feed { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
.tile.wide { grid-column: span 2; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; color: #fff; font-size: 13px; font-weight: 600; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.idle { background: var(--idle); }
.chart { width: 100%; height: 64px; display: block; margin-top: 6px; }
.chart .axis { stroke: var(--line); } .chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.chart .area { fill: var(--accent); opacity: .15; }
.feeds { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.uri, .count { margin: 2px 0; }
.posts { list-style: none; margin: 8px 0 0; padding: 0; }
.post { border-top: 1px solid var(--line); padding: 6px 0; overflow-wrap: anywhere; }
.post .author { font: 12px ui-monospace, monospace; color: var(--accent); text-decoration: none; }
.post .lang { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; background: var(--line); font-size: 12px; }
.post .text { display: block; margin-top: 2px; }
ul.cursors { margin: 4px 0 0; padding-left: 18px; }
</style>
</head>
<body>
<header>
  <h1>feedgen <span class="muted">${escapeHtml(s.version)}</span></h1>
  <span class="muted">service <code>${escapeHtml(s.serviceDid)}</code> · publisher <code>${escapeHtml(s.publisherDid)}</code></span>
</header>
<div class="tiles">
  <div class="tile" id="source"><div class="label">Source</div><div class="value">${escapeHtml(s.source.name)}</div><span class="badge ${state.tone}">${escapeHtml(state.label)}</span></div>
  <div class="tile" id="lag"><div class="label">Ingest lag</div><div class="value">${lag === null ? '—' : formatAge(lag)}</div><span class="muted">newest post ${newestAge === null ? 'none yet' : `${formatAge(Math.max(0, newestAge))} ago`}</span></div>
  <div class="tile wide" id="rate"><div class="label">Events/s (last ${CHART_BUCKETS / 6} min)</div><div class="value">${s.source.connected === null ? '—' : current.toFixed(1)}</div>${s.source.connected === null ? '<span class="muted">this process does not ingest (a read replica)</span>' : rateChart(rates)}</div>
  <div class="tile" id="posts"><div class="label">Posts stored</div><div class="value">${s.posts.exact ? '' : '≈ '}${formatCount(s.posts.stored)}</div></div>
  <div class="tile" id="db"><div class="label">Database</div><div class="value">${formatBytes(s.db.bytes)}</div></div>
</div>
${cursors ? `<h2>Cursors</h2><ul class="cursors">${cursors}</ul>` : ''}
<h2>Feeds <span class="muted">${s.feeds.length}</span></h2>
<div class="feeds">
${s.feeds.map(feedSection).join('\n')}
</div>
<p class="muted">As of ${escapeHtml(s.time)}; refreshes every ${REFRESH_S} s. As JSON: <a href="/status.json">/status.json</a>.</p>
</body>
</html>
`
}
