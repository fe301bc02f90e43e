import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { CLI } from './support/cli.ts'

describe('command output', () => {
  it('stops quietly when its reader goes away (feedgen feeds | head -1)', async () => {
    const child = spawn(process.execPath, [CLI, 'feeds', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // the reader is gone before the first line is written
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const [code] = await once(child, 'exit')
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})
