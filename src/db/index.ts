import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Client, createClient } from '@libsql/client'
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import Database from 'libsql'
import { ConfigError } from '../config.ts'
import * as schema from './schema.ts'

export type Db = LibSQLDatabase<typeof schema> & {
  $client: Client
  /**
   * Runs a read-only statement and answers its first row as an array (undefined when there is
   * none). On a file database the statement is prepared once, on a read connection of its own,
   * and kept: for the queries a feed runs on every request, where drizzle and the client's
   * per-call work cost more than the query itself, and each row fetched costs more than a range
   * scan's step, so such queries aggregate their page into one row (bench/README.md). Elsewhere
   * it goes through the client.
   */
  $readRow(sql: string, args: readonly (string | number | null)[]): Promise<unknown[] | undefined>
}

/** The committed drizzle-kit migrations, found from both `src/db` and `dist/db`. */
export const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle')

export interface DbHandle extends AsyncDisposable {
  db: Db
  client: Client
  /** the file path for a `file:` URL, else null */
  path: string | null
  close(): void
}

/**
 * Opens a libSQL database: a local file (`file:data/feedgen.db`, the folder is created, WAL mode,
 * busy timeout), `:memory:`, or a libSQL server / Turso URL.
 */
export async function createDb(
  url: string,
  opts: {
    authToken?: string
    /** refuse to create a file that is not there (commands that inspect or maintain one) */
    mustExist?: boolean
  } = {},
): Promise<DbHandle> {
  const path = filePath(url)
  if (path && opts.mustExist && !existsSync(path)) {
    throw new ConfigError(`there is no database at ${path} (see --db)`)
  }
  if (path) mkdirSync(dirname(path), { recursive: true })
  const client = createClient({ url, authToken: opts.authToken })
  if (path || url === ':memory:') {
    // Space freed by pruning goes back to the filesystem (src/db/retention.ts runs
    // incremental_vacuum). The mode can only be chosen before the first table exists.
    const tables = await client.execute('SELECT count(*) AS n FROM sqlite_master')
    if (Number(tables.rows[0]?.n) === 0) await client.execute('PRAGMA auto_vacuum = INCREMENTAL')
    // WAL lets readers (the server, read-only replicas) run beside the one writer; the busy
    // timeout makes a reader wait for a checkpoint instead of failing with SQLITE_BUSY.
    await client.execute('PRAGMA journal_mode = WAL')
    // after a checkpoint, a WAL that a burst (a large prune) grew is cut back to 64 MiB
    await client.execute('PRAGMA journal_size_limit = 67108864')
    await client.execute('PRAGMA busy_timeout = 5000')
    await client.execute('PRAGMA synchronous = NORMAL')
    // Ingest (bench/README.md): checkpointing every ~40 MB of WAL instead of every 4 MB syncs the
    // disk a tenth as often, about 1.6x the posts/s on a 1M-post database. The page cache made no
    // measurable difference from 2 to 32 MB there, and it is resident memory: 8 MB.
    await client.execute('PRAGMA cache_size = -8000')
    await client.execute('PRAGMA wal_autocheckpoint = 10000')
  }
  const reader = path ? fileReader(path) : clientReader(client)
  releaseOnCalls(client, reader.release)
  const db = Object.assign(drizzle(client, { schema }), { $readRow: reader.read }) as Db
  const close = () => {
    reader.close()
    client.close()
  }
  return { db, client, path, close, [Symbol.asyncDispose]: async () => close() }
}

/** Kept statements beyond this many are dropped: SQL with values inlined must not grow it. */
const MAX_STATEMENTS = 100

/**
 * The kept read connection. Its reads share one snapshot (read transaction) per turn of the event
 * loop: starting and ending a read transaction takes file-lock system calls that cost as much as
 * a deep page's query (bench/README.md). Requests read in one turn were sent before it began, so
 * whatever their clients saw committed is in the snapshot; `release` ends it early, on every call
 * through this process's own client, so code that writes and then reads sees its write.
 */
function fileReader(path: string) {
  let conn: Database.Database | null = null
  const statements = new Map<string, Database.Statement>()
  const release = () => {
    if (conn?.inTransaction) conn.exec('COMMIT')
  }
  return {
    read: async (sql: string, args: readonly (string | number | null)[]) => {
      if (conn === null) {
        conn = new Database(path)
        conn.exec('PRAGMA busy_timeout = 5000')
        conn.exec('PRAGMA query_only = 1')
      }
      let stmt = statements.get(sql)
      if (stmt === undefined) {
        if (statements.size >= MAX_STATEMENTS) statements.clear()
        stmt = conn.prepare(sql).raw(true)
        statements.set(sql, stmt)
      }
      if (!conn.inTransaction) {
        conn.exec('BEGIN')
        setImmediate(release)
      }
      return stmt.get(...args) as unknown[] | undefined
    },
    release,
    close: () => {
      release()
      statements.clear()
      conn?.close()
      conn = null
    },
  }
}

function clientReader(client: Client) {
  return {
    read: async (sql: string, args: readonly (string | number | null)[]) => {
      const rs = await client.execute({ sql, args: [...args] })
      const row = rs.rows[0]
      return row && Array.from({ length: rs.columns.length }, (_, i) => row[i])
    },
    release: () => {},
    close: () => {},
  }
}

/**
 * Calls `release` when each call through `client` starts (a checkpoint that waits for readers
 * must not wait for ours, held by the thread it blocks) and when it settles (what it wrote is
 * seen by the next read).
 */
function releaseOnCalls(client: Client, release: () => void): void {
  const c = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const name of ['execute', 'batch', 'executeMultiple', 'migrate'] as const) {
    const call = client[name].bind(client) as (...args: unknown[]) => Promise<unknown>
    c[name] = (...args) => {
      release()
      return call(...args).finally(release)
    }
  }
  const transaction = client.transaction.bind(client)
  client.transaction = async (...args: Parameters<Client['transaction']>) => {
    release()
    const tx = await transaction(...args)
    for (const end of ['commit', 'rollback'] as const) {
      const call = tx[end].bind(tx)
      tx[end] = () => call().finally(release)
    }
    return tx
  }
}

export async function migrateDb(db: Db): Promise<void> {
  await migrate(db, { migrationsFolder })
}

function filePath(url: string): string | null {
  if (!url.startsWith('file:')) return null
  return resolve(decodeURIComponent(url.slice('file:'.length).replace(/^\/\/(?=\/)/, '')))
}
