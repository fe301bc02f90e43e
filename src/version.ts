import { readFileSync } from 'node:fs'

/** From package.json, read once, so health and the status page report what is running. */
export const version: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version
