import { Command } from 'commander'
import { options, pruneOptions } from '../config.ts'
import { createDb, migrateDb } from '../db/index.ts'
import { prune, vacuumFull } from '../db/retention.ts'
import { storageStats } from '../db/stats.ts'
import { untilSignal } from './signals.ts'

interface PruneCommandOptions {
  db: string
  dbAuthToken?: string
  olderThan: number
  vacuum?: boolean
}

/**
 * `feedgen prune`: the retention that `serve` runs in the background, once, for a cron job or by
 * hand (beside a running serve too: it takes the write lock one small batch at a time). Prints
 * one JSON line with what it removed. Ctrl-C stops it between two batches.
 */
export function pruneCommand(): Command {
  return new Command('prune')
    .description(
      'remove the posts stored longer ago than --older-than, with their language rows, and return the space',
    )
    .addOption(options.db())
    .addOption(options.dbAuthToken())
    .addOption(pruneOptions.olderThan())
    .addOption(pruneOptions.vacuum())
    .action(async (opts: PruneCommandOptions) => {
      await using handle = await createDb(opts.db, {
        authToken: opts.dbAuthToken,
        mustExist: true,
      })
      await migrateDb(handle.db)
      const signal = untilSignal()
      const before = await storageStats(handle.client)
      const result = await prune(handle.client, { cutoff: Date.now() - opts.olderThan, signal })
      if (opts.vacuum && !signal.aborted) await vacuumFull(handle.client)
      const after = await storageStats(handle.client)
      process.stdout.write(
        `${JSON.stringify({
          cutoff: new Date(result.cutoff).toISOString(),
          posts: result.posts,
          langs: result.langs,
          freedBytes: Math.max(0, before.bytes - after.bytes),
          dbBytes: after.bytes,
          autoVacuum: after.autoVacuum,
          durationMs: result.durationMs,
          ...(signal.aborted ? { interrupted: true } : {}),
        })}\n`,
      )
    })
}
