// `feedgen serve` with one more feed, which reads likes and reposts as a feed that ranks by
// engagement would: the source then subscribes to posts, likes and reposts, the mixed stream.
// Takes serve's flags. Plain JavaScript on the compiled code (dist/, see `build` in proc.ts), so
// that the process is what the published CLI is: no TypeScript stripper loaded.
const dist = new URL('../../dist/', import.meta.url)
const { serve, serveCommand } = await import(new URL('cli/serve.js', dist).href)
const { defineFeed, feeds } = await import(new URL('feeds/index.js', dist).href)
const { untilSignal } = await import(new URL('cli/signals.js', dist).href)

const engaged = defineFeed({
  id: 'engaged',
  displayName: 'Engaged',
  description: 'bench: subscribes to likes and reposts',
  needs: ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost'],
  skeleton: async () => ({ feed: [] }),
})

// parsed as `feedgen serve` parses its flags
const cmd = serveCommand().action(() => {})
cmd.parse(process.argv.slice(2), { from: 'user' })
await serve(cmd.opts(), untilSignal(), { feeds: [...feeds, engaged] })
