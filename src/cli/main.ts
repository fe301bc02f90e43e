import { Command, CommanderError } from 'commander'
import { ConfigError } from '../config.ts'
import { version } from '../version.ts'
import { feedsCommand } from './feeds.ts'
import { ingestCommand } from './ingest.ts'
import { langCommand } from './lang.ts'
import { migrateCommand } from './migrate.ts'
import { pruneCommand } from './prune.ts'
import { publishCommand, unpublishCommand } from './publish.ts'
import { serveCommand } from './serve.ts'
import { statsCommand } from './stats.ts'

export function program(): Command {
  const cmd = new Command('feedgen')
    .description('A Bluesky feed generator: ingest, language detection, libSQL, XRPC feeds')
    .version(version)
  for (const sub of [
    serveCommand(),
    ingestCommand(),
    migrateCommand(),
    feedsCommand(),
    publishCommand(),
    unpublishCommand(),
    langCommand(),
    pruneCommand(),
    statsCommand(),
  ]) {
    cmd.addCommand(sub.exitOverride())
  }
  return cmd.exitOverride()
}

/** Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 bad usage or configuration. */
export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`feedgen feeds | head -1`) is not an error: stop quietly, as
  // other command-line tools do, where Node would throw the EPIPE with its stack.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(process.exitCode ?? 0)
  })
  try {
    await program().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its one-line message
      return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)
        ? 0
        : 2
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`)
      return 2
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}

if (import.meta.main) process.exitCode = await main(process.argv)
