import { schemas } from '@atproto/api'
import { describe, expect, it } from 'vitest'
import { describeFeedGeneratorDoc, getFeedSkeletonDoc } from '../src/server/lexicons.ts'

describe('the served lexicons', () => {
  it('are those @atproto/api ships, word for word', () => {
    for (const doc of [getFeedSkeletonDoc, describeFeedGeneratorDoc]) {
      expect(doc).toEqual(schemas.find((s) => s.id === doc.id))
    }
  })
})
