import type { Client } from '@libsql/client'
import type { Db } from '../../src/db/index.ts'
import { postLangs, posts } from '../../src/db/schema.ts'
import type { IngestEvent, PostCreate } from '../../src/ingest/events.ts'
import { writeBatch } from '../../src/ingest/writer.ts'

export interface TestPost {
  uri: string
  time: number
  langs: string[]
}

let n = 0
/** A fresh AT-URI; `did` picks the author. */
export function postUri(did = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'): string {
  n++
  return `at://${did}/app.bsky.feed.post/3k${String(n).padStart(11, '0')}`
}

/** Arranges stored posts directly, for tests of the read path. */
export async function insertPosts(db: Db, rows: TestPost[]): Promise<void> {
  if (rows.length === 0) return
  await db.insert(posts).values(
    rows.map((p) => ({
      uri: p.uri,
      cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
      author: p.uri.split('/')[2] ?? '',
      text: 'hei',
      createdAt: p.time,
      indexedAt: p.time,
      declaredLangs: p.langs,
      detectedLang: p.langs[0] ?? null,
      langConfidence: 1,
    })),
  )
  await db
    .insert(postLangs)
    .values(
      rows.flatMap((p) =>
        p.langs.map((lang) => ({ lang, indexedAt: p.time, uri: p.uri, source: 'both' as const })),
      ),
    )
}

const WORDS = 'fjell skog hav by tur kaffe regn sol vind bok musikk venner jobb helg'.split(' ')
let created = 0

/**
 * Post events as a source hands them to the writer, stored at `time` (ms) and counting as
 * `langs` (the writer adds `no` to `nb` and `nn`); texts of about 250 bytes.
 */
export function postCreates(count: number, time: number, langs: string[] = ['nb']): PostCreate[] {
  return Array.from({ length: count }, () => {
    created++
    const author = `did:plc:${String(created % 997).padStart(24, 'a')}`
    return {
      kind: 'post',
      cursor: time * 1000 + created,
      time,
      uri: `at://${author}/app.bsky.feed.post/3k${String(created).padStart(11, '0')}`,
      cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
      author,
      text: Array.from({ length: 40 }, (_, i) => WORDS[(created * 7 + i * 3) % WORDS.length]).join(
        ' ',
      ),
      createdAt: time,
      replyRoot: null,
      replyParent: null,
      declaredLangs: langs,
      langs,
      detectedLang: langs[0] ?? null,
      langConfidence: 1,
    }
  })
}

/** Stores `events` through the real writer, in its batch size, under the cursor key `source`. */
export async function storeEvents(
  client: Client,
  events: readonly IngestEvent[],
  source = 'test',
): Promise<void> {
  for (let i = 0; i < events.length; i += 2000) {
    await writeBatch(client, source, events.slice(i, i + 2000))
  }
}
