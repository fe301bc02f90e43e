import { languageFeed } from './language-feed.ts'

export const norwegian = languageFeed({
  id: 'norwegian',
  displayName: 'Norsk',
  description: 'Alle innlegg på norsk: bokmål og nynorsk, nyeste først.',
  langs: ['no'],
})

export const bokmal = languageFeed({
  id: 'bokmal',
  displayName: 'Bokmål',
  description: 'Alle innlegg på bokmål, nyeste først.',
  langs: ['nb'],
})

export const nynorsk = languageFeed({
  id: 'nynorsk',
  displayName: 'Nynorsk',
  description: 'Alle innlegg på nynorsk, nyaste først.',
  langs: ['nn'],
})

export const swedish = languageFeed({
  id: 'swedish',
  displayName: 'Svenska',
  description: 'Alla inlägg på svenska, nyaste först.',
  langs: ['sv'],
})

export const danish = languageFeed({
  id: 'danish',
  displayName: 'Dansk',
  description: 'Alle opslag på dansk, nyeste først.',
  langs: ['da'],
})
