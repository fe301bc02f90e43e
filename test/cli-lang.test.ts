import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { langCommand } from '../src/cli/lang.ts'

/** Runs `feedgen lang` in-process with `stdin` as its input; returns its JSON lines. */
async function lang(args: string[], stdin = ''): Promise<Record<string, unknown>[]> {
  const input = new PassThrough()
  const output = new PassThrough()
  let out = ''
  output.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  input.end(stdin)
  await langCommand({ stdin: input, stdout: output }).parseAsync(args, { from: 'user' })
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))
}

describe('feedgen lang', () => {
  it('prints one JSON line per argument with the detected languages', async () => {
    const lines = await lang([
      'Eg veit ikkje kva eg skal gjere i helga',
      'I have no idea what to do this weekend',
    ])
    expect(lines).toEqual([
      {
        text: 'Eg veit ikkje kva eg skal gjere i helga',
        langs: ['nn'],
        detected: 'nn',
        declared: [],
        confidence: expect.any(Number),
      },
      {
        text: 'I have no idea what to do this weekend',
        langs: ['en'],
        detected: 'en',
        declared: [],
        confidence: expect.any(Number),
      },
    ])
  })

  it('reads the non-empty lines of stdin when no text is given', async () => {
    const lines = await lang(
      [],
      'Jag vet inte vad jag ska göra\n\n   \nJeg ved ikke hvad jeg skal lave\n',
    )
    expect(lines.map((l) => [l.text, l.langs])).toEqual([
      ['Jag vet inte vad jag ska göra', ['sv']],
      ['Jeg ved ikke hvad jeg skal lave', ['da']],
    ])
  })

  it('takes the declared languages from --declared and falls back to them', async () => {
    const [line] = await lang(['--declared', 'nb-NO, en', '😂😂 https://example.com'])
    expect(line).toEqual({
      text: '😂😂 https://example.com',
      langs: ['nb', 'en'],
      detected: null,
      declared: ['nb-NO', 'en'],
      confidence: 0,
    })
  })
})
