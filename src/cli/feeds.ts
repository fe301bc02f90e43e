import { Command } from 'commander'
import { options, type ServeOptions, serviceIdentity } from '../config.ts'
import { createIdResolver, resolvePublisherDid } from '../context.ts'
import { createRegistry, feeds } from '../feeds/index.ts'
import { feedUri } from '../server/getFeedSkeleton.ts'

type FeedsOptions = Pick<
  ServeOptions,
  'hostname' | 'port' | 'serviceDid' | 'publisherDid' | 'publisherHandle' | 'plcUrl'
> & { json?: boolean }

export function feedsCommand(): Command {
  const cmd = new Command('feeds').description('list the configured feeds and their AT-URIs')
  for (const o of [
    options.hostname,
    options.port,
    options.serviceDid,
    options.publisherDid,
    options.publisherHandle,
    options.plcUrl,
  ]) {
    cmd.addOption(o())
  }
  return cmd.option('--json', 'one JSON object per feed').action(async (opts: FeedsOptions) => {
    const identity = serviceIdentity(opts)
    const publisher = await resolvePublisherDid(opts, identity, createIdResolver(opts.plcUrl))
    for (const feed of createRegistry(feeds).values()) {
      const uri = feedUri(publisher, feed.id)
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ id: feed.id, displayName: feed.displayName, uri })}\n`
          : `${feed.id.padEnd(16)}${feed.displayName.padEnd(26)}${uri}\n`,
      )
    }
  })
}
