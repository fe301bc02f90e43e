import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { Command } from 'commander'
import { detectLanguage } from '../ingest/language.ts'

interface LangOptions {
  declared?: string
}

/** Where `feedgen lang` reads and writes; the process's own streams unless a test passes others. */
export interface LangIo {
  stdin: Readable
  stdout: Writable
}

/**
 * `feedgen lang [text...]`: runs the ingest path's language detection on each argument, or on each
 * non-empty line of stdin, and prints one JSON object per text.
 */
export function langCommand(
  io: LangIo = { stdin: process.stdin, stdout: process.stdout },
): Command {
  return new Command('lang')
    .description('detect the language of texts given as arguments or as lines on stdin')
    .argument('[text...]', 'texts to detect (default: each non-empty line of stdin)')
    .option(
      '--declared <langs>',
      "comma-separated languages the post declares, as a post's langs field (e.g. no,en)",
    )
    .action(async (texts: string[], opts: LangOptions) => {
      const declared = (opts.declared ?? '')
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== '')
      const print = (text: string) => {
        const { langs, detected, confidence } = detectLanguage(text, declared)
        io.stdout.write(`${JSON.stringify({ text, langs, detected, declared, confidence })}\n`)
      }
      if (texts.length > 0) {
        for (const text of texts) print(text)
        return
      }
      for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
        if (line.trim() !== '') print(line)
      }
    })
}
