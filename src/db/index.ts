import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Client, createClient } from '@libsql/client'
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import * as schema from './schema.ts'

export type Db = LibSQLDatabase<typeof schema> & { $client: Client }

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
export async function createDb(url: string, opts: { authToken?: string } = {}): Promise<DbHandle> {
  const path = filePath(url)
  if (path) mkdirSync(dirname(path), { recursive: true })
  const client = createClient({ url, authToken: opts.authToken })
  if (path || url === ':memory:') {
    // WAL lets readers (the server, read-only replicas) run beside the one writer; the busy
    // timeout makes a reader wait for a checkpoint instead of failing with SQLITE_BUSY.
    await client.execute('PRAGMA journal_mode = WAL')
    await client.execute('PRAGMA busy_timeout = 5000')
    await client.execute('PRAGMA synchronous = NORMAL')
  }
  const db = drizzle(client, { schema }) as Db
  return {
    db,
    client,
    path,
    close: () => client.close(),
    [Symbol.asyncDispose]: async () => client.close(),
  }
}

export async function migrateDb(db: Db): Promise<void> {
  await migrate(db, { migrationsFolder })
}

function filePath(url: string): string | null {
  if (!url.startsWith('file:')) return null
  return resolve(decodeURIComponent(url.slice('file:'.length).replace(/^\/\/(?=\/)/, '')))
}
