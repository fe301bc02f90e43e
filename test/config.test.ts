import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { program } from '../src/cli/main.ts'
import { duration } from '../src/config.ts'
import { runCli } from './support/cli.ts'
import { serveOptions } from './support/serve.ts'

const allEnvVars = () =>
  program()
    .commands.flatMap((cmd) => cmd.options)
    .map((o) => o.envVar)
    .filter((v): v is string => v !== undefined)

describe('configuration', () => {
  it('gives every flag of every command an environment variable, all listed in .env.example', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
    const vars = [...new Set(allEnvVars())]
    expect(vars.length).toBeGreaterThan(20)
    for (const v of vars) {
      expect(v).toMatch(/^FEEDGEN_[A-Z0-9_]+$/)
      expect(example, `${v} missing from .env.example`).toContain(v)
    }
    for (const cmd of program().commands) {
      for (const o of cmd.options) {
        // per-invocation inputs rather than configuration
        if (['--json', '--dry-run', '--declared'].includes(o.long ?? '')) continue
        expect(o.envVar, `${cmd.name()} ${o.long}`).toBeDefined()
      }
    }
  })

  it('takes flags over the environment, and the environment over defaults', () => {
    expect(serveOptions([]).port).toBe(3000)
    process.env.FEEDGEN_PORT = '4000'
    try {
      expect(serveOptions([]).port).toBe(4000)
      expect(serveOptions(['--port', '5000']).port).toBe(5000)
    } finally {
      delete process.env.FEEDGEN_PORT
    }
  })

  it('parses durations', () => {
    expect(duration('500ms')).toBe(500)
    expect(duration('30s')).toBe(30_000)
    expect(duration('24h')).toBe(86_400_000)
    expect(duration('7d')).toBe(604_800_000)
    for (const bad of ['', '7', 'd', '-1h', '1w', '1 h h']) expect(() => duration(bad)).toThrow()
  })

  it('stops on a bad value with one line on stderr and exit code 2, from a flag or the environment', async () => {
    const flag = await runCli(['serve', '--port', 'abc'])
    expect(flag.code).toBe(2)
    expect(flag.stderr.trim().split('\n')).toEqual([
      "error: option '--port <port>' argument 'abc' is invalid. expected a whole number from 0 to 65535",
    ])
    const env = await runCli(['serve'], { FEEDGEN_SOURCE: 'kafka' })
    expect(env.code).toBe(2)
    expect(env.stderr).toMatch(
      /^error: option '--source <source>' value 'kafka' from env 'FEEDGEN_SOURCE' is invalid/,
    )
    const did = await runCli(['serve', '--publisher-did', 'alice'])
    expect(did.code).toBe(2)
    const unknown = await runCli(['serve', '--no-such-flag'])
    expect(unknown.code).toBe(2)
  })

  it('exits 0 for --help and --version', async () => {
    const help = await runCli(['serve', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--jetstream-url')
    expect(help.stdout).toContain('FEEDGEN_JETSTREAM_URL')
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
