// `feedgen serve` with bench feeds added, named by the first argument (comma-separated), then
// serve's flags:
// - engaged: reads likes and reposts as a feed that ranks by engagement would: the source then
//   subscribes to posts, likes and reposts, the mixed stream.
// - personal: newest Swedish posts, for signed-in users only (`requiresAuth`), as a personalised
//   feed's request costs: every request's token is checked and its page queried.
// Plain JavaScript on the compiled code (dist/, see `build` in proc.ts), so that the process is
// what the published CLI is: no TypeScript stripper loaded.
const dist = new URL('../../dist/', import.meta.url)
const { registerModuleHooks } = await import(new URL('cli/module-hooks.js', dist).href)
registerModuleHooks()
const { serve, serveCommand } = await import(new URL('cli/serve.js', dist).href)
const { defineFeed, feeds, languageFeed } = await import(new URL('feeds/index.js', dist).href)
const { untilSignal } = await import(new URL('cli/signals.js', dist).href)

const benchFeeds = {
  engaged: () =>
    defineFeed({
      id: 'engaged',
      displayName: 'Engaged',
      description: 'bench: subscribes to likes and reposts',
      needs: ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost'],
      skeleton: async () => ({ feed: [] }),
    }),
  personal: () =>
    languageFeed({
      id: 'personal',
      displayName: 'Personal',
      description: 'bench: checks every token',
      langs: ['sv'],
      requiresAuth: true,
      cacheFirstPage: false,
    }),
}

const [names = '', ...flags] = process.argv.slice(2)
const extra = names.split(',').map((name) => {
  const make = benchFeeds[name]
  if (make === undefined) throw new Error(`no bench feed "${name}"`)
  return make()
})
// parsed as `feedgen serve` parses its flags
const cmd = serveCommand().action(() => {})
cmd.parse(flags, { from: 'user' })
await serve(cmd.opts(), untilSignal(), { feeds: [...feeds, ...extra] })
