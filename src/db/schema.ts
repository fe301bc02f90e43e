import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/**
 * One row per live post. `indexedAt` is the source's event time (Jetstream `time_us`, firehose
 * `time`) in ms, so a replay writes the same value and feed order is reproducible.
 */
export const posts = sqliteTable(
  'posts',
  {
    uri: text('uri').primaryKey(),
    cid: text('cid').notNull(),
    author: text('author').notNull(),
    text: text('text').notNull(),
    /** the record's own createdAt, ms; author-controlled, so never the feed's sort key */
    createdAt: integer('created_at').notNull(),
    indexedAt: integer('indexed_at').notNull(),
    replyRoot: text('reply_root'),
    replyParent: text('reply_parent'),
    /** the author's declared `langs`, JSON array of BCP-47 tags as written */
    declaredLangs: text('declared_langs', { mode: 'json' }).$type<string[]>().notNull(),
    /** what detection found in the text (null: too short or unknown) */
    detectedLang: text('detected_lang'),
    /** 0..1 */
    langConfidence: real('lang_confidence'),
  },
  (t) => [index('posts_author_idx').on(t.author), index('posts_indexed_at_idx').on(t.indexedAt)],
)

/**
 * The languages a post counts as, one row each, keyed so that a language feed's page is one
 * index range scan: `WHERE lang = ? AND (indexed_at, uri) < (?, ?) ORDER BY indexed_at DESC,
 * uri DESC`. Bokmål and Nynorsk posts also get a row for the macrolanguage `no`.
 */
export const postLangs = sqliteTable(
  'post_langs',
  {
    lang: text('lang').notNull(),
    indexedAt: integer('indexed_at').notNull(),
    uri: text('uri').notNull(),
    /** where the language came from */
    source: text('source', { enum: ['declared', 'detected', 'both'] }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.lang, t.indexedAt, t.uri] }),
    index('post_langs_uri_idx').on(t.uri),
  ],
)

/** The position of each source, written in the same transaction as the rows it produced. */
export const cursors = sqliteTable('cursors', {
  source: text('source').primaryKey(),
  cursor: integer('cursor').notNull(),
  updatedAt: integer('updated_at').notNull(),
})
