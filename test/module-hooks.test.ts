import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { resolveDrizzleImports } from '../src/cli/module-hooks.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** What Node itself answers for every import while drizzle-orm loads as feedgen loads it. */
const RECORD = `
import { registerHooks } from 'node:module'
const seen = []
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context)
    seen.push({ specifier, parentURL: context.parentURL, url: r.url, format: r.format })
    return r
  },
})
await import('drizzle-orm')
await import('drizzle-orm/sqlite-core')
await import('drizzle-orm/libsql')
await import('drizzle-orm/libsql/migrator')
console.log(JSON.stringify(seen))
`

describe('the module hooks', () => {
  it("resolve drizzle-orm's own imports to the files and formats Node does, and leave the rest to it", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', RECORD],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    )
    const seen = JSON.parse(stdout) as {
      specifier: string
      parentURL?: string
      url: string
      format?: string
    }[]
    let shortCut = 0
    let passedOn = 0
    for (const { specifier, parentURL, url, format } of seen) {
      const ours = resolveDrizzleImports(
        specifier,
        { parentURL, conditions: [], importAttributes: {} },
        () => {
          passedOn++
          return { url: 'next', format: null }
        },
      )
      if (ours.url === 'next') continue
      shortCut++
      expect({ specifier, parentURL, url: ours.url, format: ours.format }).toEqual({
        specifier,
        parentURL,
        url,
        format,
      })
    }
    // nearly every drizzle-orm module was reached through a relative import, and the entry
    // points (bare specifiers) went to Node
    expect(shortCut).toBeGreaterThan(300)
    expect(passedOn).toBeGreaterThan(0)
  })
})
