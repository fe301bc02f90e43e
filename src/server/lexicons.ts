import { type LexiconDoc, Lexicons } from '@atproto/lexicon'

// The two methods a feed generator serves, copied from @atproto/api's lexicons
// (test/lexicons.test.ts checks that they still match): importing @atproto/api loads all ~540 of
// its lexicons, ~10 MB of heap that serve never uses.

export const GET_FEED_SKELETON = 'app.bsky.feed.getFeedSkeleton'
export const DESCRIBE_FEED_GENERATOR = 'app.bsky.feed.describeFeedGenerator'

export const getFeedSkeletonDoc: LexiconDoc = {
  lexicon: 1,
  id: 'app.bsky.feed.getFeedSkeleton',
  defs: {
    main: {
      type: 'query',
      description:
        'Get a skeleton of a feed provided by a feed generator. Auth is optional, depending on provider requirements, and provides the DID of the requester. Implemented by Feed Generator Service.',
      parameters: {
        type: 'params',
        required: ['feed'],
        properties: {
          feed: {
            type: 'string',
            format: 'at-uri',
            description:
              'Reference to feed generator record describing the specific feed being requested.',
          },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
          cursor: { type: 'string' },
        },
      },
      output: {
        encoding: 'application/json',
        schema: {
          type: 'object',
          required: ['feed'],
          properties: {
            cursor: { type: 'string' },
            feed: {
              type: 'array',
              items: { type: 'ref', ref: 'lex:app.bsky.feed.defs#skeletonFeedPost' },
            },
            reqId: {
              type: 'string',
              description:
                'Unique identifier per request that may be passed back alongside interactions.',
              maxLength: 100,
            },
          },
        },
      },
      errors: [{ name: 'UnknownFeed' }],
    },
  },
}

export const describeFeedGeneratorDoc: LexiconDoc = {
  lexicon: 1,
  id: 'app.bsky.feed.describeFeedGenerator',
  defs: {
    main: {
      type: 'query',
      description:
        'Get information about a feed generator, including policies and offered feed URIs. Does not require auth; implemented by Feed Generator services (not App View).',
      output: {
        encoding: 'application/json',
        schema: {
          type: 'object',
          required: ['did', 'feeds'],
          properties: {
            did: { type: 'string', format: 'did' },
            feeds: {
              type: 'array',
              items: { type: 'ref', ref: 'lex:app.bsky.feed.describeFeedGenerator#feed' },
            },
            links: { type: 'ref', ref: 'lex:app.bsky.feed.describeFeedGenerator#links' },
          },
        },
      },
    },
    feed: {
      type: 'object',
      required: ['uri'],
      properties: { uri: { type: 'string', format: 'at-uri' } },
    },
    links: {
      type: 'object',
      properties: { privacyPolicy: { type: 'string' }, termsOfService: { type: 'string' } },
    },
  },
}

/** The served methods' lexicons, for validation. */
export const lexicons = new Lexicons([getFeedSkeletonDoc, describeFeedGeneratorDoc])
