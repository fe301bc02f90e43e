import type { Db } from '../../src/db/index.ts'
import { postLangs, posts } from '../../src/db/schema.ts'

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
