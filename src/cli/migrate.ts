import { Command } from 'commander'
import { options } from '../config.ts'
import { createDb, migrateDb } from '../db/index.ts'

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('apply the database migrations in drizzle/ (serve also does this at start)')
    .addOption(options.db())
    .addOption(options.dbAuthToken())
    .action(async (opts: { db: string; dbAuthToken?: string }) => {
      await using handle = await createDb(opts.db, { authToken: opts.dbAuthToken })
      await migrateDb(handle.db)
      process.stdout.write(`${opts.db}: migrations applied\n`)
    })
}
