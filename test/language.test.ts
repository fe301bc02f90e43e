import { describe, expect, it } from 'vitest'
import { cleanText, detectLanguage, normalizeLangs } from '../src/ingest/language.ts'

// The examples the detector is tuned with. The benchmark corpus (bench/lang-corpus.ts) is held
// out: nothing here is copied from it.
const EXAMPLES: Record<string, string[]> = {
  en: [
    'Not me crying at a dog food commercial again',
    'Absolute scenes at the match tonight',
    'who else is still awake',
    "Weather forecast says sun all weekend, we'll see",
    'Sending love to everyone affected by the floods',
    'Quick question for the parents here: when did your kids start walking?',
    'omg ya that was wild',
    'ngl this album slaps, been on repeat all week',
    'whoever designed this parking lot should be in jail',
    'my grandma just learned how to send voice messages and now i get ten a day',
    'hot take: cereal is a soup',
    'Does the library still do the summer reading challenge for kids?',
    'ugh my flight got delayed again, stuck at the gate with no charger',
    'Finally fixed the leak under the sink myself. Plumbers hate me',
    'she said yes!!! 💍',
    'Just saw a fox walk down the middle of the high street like it owned the place',
    'ok but why is nobody talking about the ending of that episode',
  ],
  nb: [
    'Hvem vinner Eurovision i år, tror dere?',
    'Lykke til på eksamen i morgen alle sammen!',
    'Trikken står stille igjen',
    'Har fått ny jobb!! Begynner i august',
    'Mandager burde vært forbudt',
    'Trodde aldri jeg skulle si det, men jeg savner vinteren',
    'Husk refleks nå som det er mørkt',
    'Hvem har spist opp all sjokoladen min? Jeg vet det var deg',
    'Kjempefint vær i dag, tror jeg tar en tur på ski etter jobb',
    'Snart jul og jeg har ikke kjøpt en eneste gave enda',
    'Noen som har peiling på hvorfor bilen lager sånn rar lyd når jeg bremser?',
    'Gleder meg til å se dere alle på lørdag!',
    'Det er helt utrolig hvor mye tid man kan kaste bort på å scrolle',
    'Nå må politikerne faktisk gjøre noe med boligprisene',
    'Jeg gidder ikke å lage middag i kveld, blir pizza',
    'hadde en sykt rar drøm i natt om at jeg var rektor',
    'Ungene våre har fått vannkopper, så vi blir hjemme hele uka',
    'Fikk endelig tak i billetter til konserten!',
    'Takk for i dag alle sammen',
  ],
  nn: [
    'Kven vinn Eurovision i år, trur de?',
    'Nydeleg morgon i Førde i dag',
    'Kaffi fyrst, så får vi sjå',
    'Lukke til på eksamen i morgon alle saman!',
    'Har fått ny jobb!! Byrjar i august',
    'Trudde aldri eg skulle seie det, men eg saknar vinteren',
    'Hugs refleks no som det er mørkt',
    'Eg veit ikkje kva eg skal ete til middag i dag',
    'Korleis går det med dykk på Vestlandet no?',
    'Ho syster mi har fått seg jobb i Bergen, så no flyttar ho',
    'Det er mykje snø på fjellet enno, så ta med deg ski',
    'Kvifor er det ingen som svarar på e-posten min?',
    'Eg har lese heile boka på ein dag, ho var så spennande',
    'Dei skal byggje ny skule i bygda vår, endeleg',
    'Kven var det som sa at haustferien var for kort?',
    'No har eg berre lyst til å sove heile helga',
    'Eg trur det blir regn i morgon, men det er ikkje så farleg',
    'Takk for ein flott tur, vi sjåast neste år',
    'Han gamle naboen vår er den beste mannen eg veit om',
  ],
  da: [
    'Hvem vinder Eurovision i år, tror I?',
    'Held og lykke til eksamen i morgen allesammen!',
    'Har fået nyt job!! Starter i august',
    'Mandage burde være forbudt',
    'Troede aldrig jeg skulle sige det, men jeg savner vinteren',
    'Husk refleksvest nu hvor det er mørkt',
    'Hvem har spist al min chokolade? Jeg ved det var dig',
    'Hvad fanden sker der med vejret i dag, det har regnet siden i går',
    'Har nogen styr på hvorfor bilen laver sådan en mærkelig lyd når jeg bremser?',
    'Jeg glæder mig til at se jer alle sammen på lørdag!',
    'Det er helt utroligt hvor meget tid man kan spilde på at scrolle',
    'Nu må politikerne altså gøre noget ved boligpriserne',
    'Jeg gider ikke lave aftensmad i dag, det bliver pizza',
    'Ungerne har fået skoldkopper, så vi bliver hjemme hele ugen',
    'Fik endelig fat i billetter til koncerten!',
    'Tak for i dag allesammen',
    'Der er sgu ingen der gider at svare på min mail',
    'Vi skal ud og købe juletræ i weekenden, glæder mig vildt',
  ],
  sv: [
    'Vem vinner Eurovision i år, tror ni?',
    'Underbar morgon i Umeå idag',
    'Kaffe först, sen får vi se',
    'Lycka till på tentan imorgon allihop!',
    'Har fått nytt jobb!! Börjar i augusti',
    'Måndagar borde vara förbjudna',
    'Trodde aldrig att jag skulle säga det men jag saknar vintern',
    'Vem har ätit upp all min choklad? Jag vet att det var du',
    'Jättefint väder idag, tror jag tar en tur på skidor efter jobbet',
    'Snart jul och jag har inte köpt en enda present än',
    'Är det någon som har koll på varför bilen låter så konstigt när jag bromsar?',
    'Längtar efter att se er alla på lördag!',
    'Det är helt otroligt hur mycket tid man kan slösa på att scrolla',
    'Nu måste politikerna faktiskt göra något åt bostadspriserna',
    'Orkar inte laga middag ikväll, det blir pizza',
    'Barnen har fått vattkoppor så vi stannar hemma hela veckan',
    'Fick äntligen tag på biljetter till konserten!',
    'Tack för idag allihopa',
    'Ingen svarar på mitt mejl, typiskt',
  ],
  fi: [
    'Kuka voittaa euroviisut tänä vuonna?',
    'Ihana aamu Oulussa tänään',
    'Sain uuden työpaikan!! Aloitan elokuussa',
    'Kaksi tuntia jonotusta apteekissa',
    'Kuka on syönyt kaikki mun suklaat? Mä tiedän että se olit sä',
    'Ihana sää tänään, taidan lähteä hiihtämään töiden jälkeen',
    'Kohta joulu enkä oo ostanut yhtään lahjaa',
    'Miksi auto pitää tuollaista ääntä kun jarrutan?',
    'Lapset sai vesirokon, joten ollaan kotona koko viikko',
    'Kiitos tästä päivästä kaikille',
    'Ei jaksa tehdä ruokaa tänään, tilataan pizzaa',
  ],
  de: [
    'Wer gewinnt dieses Jahr den ESC?',
    'Herrlicher Morgen in Hamburg',
    'Neuen Job bekommen!! Start im August',
    'Montage sollten verboten werden',
    'Zwei Stunden Schlange in der Apotheke',
    'Wer hat meine ganze Schokolade gegessen? Ich weiß, dass du es warst',
    'Bald ist Weihnachten und ich hab noch kein einziges Geschenk',
    'Weiß jemand, warum mein Auto beim Bremsen so komische Geräusche macht?',
    'Die Kinder haben Windpocken, wir bleiben die ganze Woche zu Hause',
    'Keine Lust zu kochen heute, es gibt Pizza',
    'Danke für heute, ihr wart super',
  ],
  es: [
    'Quién gana Eurovisión este año?',
    'Qué mañana tan bonita en Sevilla',
    'Los lunes deberían estar prohibidos',
    'Dos horas de cola en la farmacia',
    'Quién se ha comido todo mi chocolate? Sé que fuiste tú',
    'Ya casi es Navidad y no he comprado ni un regalo',
    'Alguien sabe por qué el coche hace un ruido raro cuando freno?',
    'Los niños tienen varicela, así que nos quedamos en casa toda la semana',
    'No tengo ganas de cocinar hoy, toca pizza',
  ],
  pt: [
    'Quem ganha o Eurovision este ano?',
    'Que manhã linda em Salvador',
    'Emprego novo!! Começo em agosto',
    'Duas horas de fila na farmácia',
    'Quem comeu todo o meu chocolate? Eu sei que foi você',
    'Já é quase Natal e eu não comprei nenhum presente',
    'Alguém sabe por que o carro faz um barulho estranho quando eu freio?',
    'As crianças pegaram catapora, então vamos ficar em casa a semana toda',
    'Sem vontade de cozinhar hoje, vai ser pizza',
  ],
  fr: [
    "Qui gagne l'Eurovision cette année ?",
    'Quelle belle matinée à Lyon',
    'Nouveau boulot !! Je commence en août',
    'Les lundis devraient être interdits',
    'Deux heures de queue à la pharmacie',
    "Qui a mangé tout mon chocolat ? Je sais que c'est toi",
    "C'est bientôt Noël et j'ai pas encore acheté un seul cadeau",
    'Quelqu’un sait pourquoi la voiture fait un bruit bizarre quand je freine ?',
    'Les enfants ont la varicelle, on reste à la maison toute la semaine',
    'Pas envie de cuisiner ce soir, ce sera pizza',
  ],
  ja: [
    'やっと週末！',
    '今年のユーロビジョンは誰が勝つかな',
    '新しい仕事決まった！！8月から',
    '月曜日は禁止にすべき',
    '誰か私のチョコレート全部食べたでしょ',
    'もうすぐクリスマスなのにプレゼントまだ一個も買ってない',
    'ブレーキかけると車から変な音がするんだけど、なんでだろう',
    '子どもたちが水ぼうそうになったので今週はずっと家にいます',
  ],
}

// Too short to be sure of: detection may stay undecided, but never picks a wrong language, and
// the declared language settles it.
const SHORT: Array<[text: string, lang: string]> = [
  ['Endelig helg!', 'nb'],
  ['Endeleg helg!', 'nn'],
  ['Endelig weekend!', 'da'],
  ['Äntligen helg!', 'sv'],
  ['Vihdoin viikonloppu!', 'fi'],
  ['Maanantait pitäisi kieltää', 'fi'],
  ['Endlich Wochenende!', 'de'],
  ['Por fin finde!', 'es'],
  ['Nuevo trabajo!! Empiezo en agosto', 'es'],
  ['Finalmente fim de semana!', 'pt'],
  ['Segunda-feira devia ser proibida', 'pt'],
  ['Enfin le week-end !', 'fr'],
]

describe('detectLanguage', () => {
  for (const [lang, texts] of Object.entries(EXAMPLES)) {
    describe(lang, () => {
      for (const text of texts) {
        it(`detects ${lang}: ${text}`, () => {
          const r = detectLanguage(text, [])
          expect(r.detected).toBe(lang)
          expect(r.langs[0]).toBe(lang)
        })
      }
    })
  }

  for (const [text, lang] of SHORT) {
    it(`is right or undecided on short ${lang}, and right with it declared: ${text}`, () => {
      expect([lang, null]).toContain(detectLanguage(text, []).detected)
      expect(detectLanguage(text, [lang]).langs).toEqual([lang])
    })
  }

  it('does not call casual English Scots', () => {
    for (const text of ['aye it is', 'wee bit tired today', 'the wee dog is sleeping'])
      expect(detectLanguage(text, []).detected).toBe('en')
  })

  it('falls back to the declared languages when the text is only links, emoji and mentions', () => {
    const r = detectLanguage('@kari.bsky.social 😂😂🔥 https://example.com/a/b #valg2025', [
      'nb-NO',
    ])
    expect(r).toEqual({ langs: ['nb'], detected: null, confidence: 0 })
    expect(detectLanguage('🎉🎉🎉', [])).toEqual({ langs: [], detected: null, confidence: 0 })
  })

  it('falls back to the declared languages for a text too short to decide', () => {
    expect(detectLanguage('ok', ['en-US'])).toEqual({
      langs: ['en'],
      detected: null,
      confidence: 0,
    })
    expect(detectLanguage('Ødegaard!!', ['no'])).toMatchObject({ detected: null })
  })

  it('keeps declared no for an undecidable text but refines it for Norwegian text', () => {
    expect(detectLanguage('😍😍', ['no']).langs).toEqual(['no'])
    expect(detectLanguage('Finally home', ['no']).langs).toEqual(['no'])
    expect(detectLanguage('Hei på deg', ['no']).langs).toEqual(['nb'])
    expect(detectLanguage('Jeg vet ikke hva jeg skal gjøre nå', ['no']).langs).toEqual(['nb'])
    expect(detectLanguage('Eg veit ikkje kva eg skal gjere no', ['no']).langs).toEqual(['nn'])
  })

  it('overrides a wrong declared language when the text is clear', () => {
    const en = detectLanguage('I really need to get some sleep before the meeting tomorrow', ['no'])
    expect(en.langs).toEqual(['en'])
    const nb = detectLanguage('Jeg trenger virkelig å sove litt før møtet i morgen', ['en'])
    expect(nb.langs[0]).toBe('nb')
    expect(nb.langs).not.toContain('en')
  })

  it('counts a bilingual post in both declared languages', () => {
    const r = detectLanguage('God morgen alle sammen! Good morning everyone!', ['nb', 'en'])
    expect(r.langs).toHaveLength(2)
    expect(r.langs).toEqual(expect.arrayContaining(['nb', 'en']))
  })

  it('uses the declared language to settle an ambiguous short Nordic text', () => {
    // 'er det' is Danish and Norwegian alike
    expect(detectLanguage('hvor er det', ['da']).langs).toEqual(['da'])
    expect(detectLanguage('hvor er det', ['nb']).langs).toEqual(['nb'])
    expect(detectLanguage('Kaffe først, så må vi se', ['da']).langs).toEqual(['da'])
    expect(detectLanguage('Kaffe først, så får vi se', ['no']).langs).toEqual(['nb'])
    expect(detectLanguage('Skøn morgen i Aalborg i dag', ['da']).langs).toEqual(['da'])
    expect(detectLanguage('Nydelig morgen i Tromsø i dag', ['nb']).langs).toEqual(['nb'])
  })

  it('tells Japanese, Chinese and Korean apart by script', () => {
    expect(detectLanguage('今日は暑いね', []).detected).toBe('ja')
    expect(detectLanguage('今天天气很热，我们去游泳吧', []).detected).toBe('zh')
    expect(detectLanguage('오늘 날씨 진짜 덥다', []).detected).toBe('ko')
    // a Japanese post with an English word in it stays Japanese
    expect(detectLanguage('Blueskyはじめました！よろしくお願いします', ['en']).langs).toEqual([
      'ja',
    ])
    // kanji alone is too little to tell Chinese from Japanese: the declared language decides
    expect(detectLanguage('東京駅', ['ja']).langs).toEqual(['ja'])
  })

  it('names other scripts', () => {
    expect(detectLanguage('Привет, как дела? Я сегодня весь день дома', []).detected).toBe('ru')
    expect(detectLanguage('Привіт, як справи? Я сьогодні цілий день вдома', []).detected).toBe('uk')
    expect(detectLanguage('Καλημέρα σε όλους, τι κάνετε;', []).detected).toBe('el')
    expect(detectLanguage('สวัสดีครับ วันนี้อากาศดีมาก', []).detected).toBe('th')
  })

  it('returns a confidence between 0 and 1 that is higher for clearer text', () => {
    const long = detectLanguage('I think that we should all go to the park this afternoon', [])
    const short = detectLanguage('good idea', [])
    expect(long.confidence).toBeLessThanOrEqual(1)
    expect(long.confidence).toBeGreaterThan(short.confidence)
  })
})

describe('normalizeLangs', () => {
  it('reduces tags to lowercase primary subtags and keeps no as no', () => {
    expect(normalizeLangs(['nb-NO', 'en-US', 'no', 'nob', 'NN', 'pt_BR', 'zh-Hant', 'iw'])).toEqual(
      ['nb', 'en', 'no', 'nn', 'pt', 'zh', 'he'],
    )
  })

  it('drops what is not a language tag and repeats', () => {
    expect(normalizeLangs(['en', 'en-GB', '', '12', 'english', 'x-klingon'])).toEqual(['en'])
  })
})

describe('cleanText', () => {
  it('strips links, mentions, hashtags, emoji and punctuation runs', () => {
    expect(
      cleanText(
        'Look!!! @anna.bsky.social 🎉🎉 https://example.com/x?y=1 www.nrk.no/nyheter #tbt sooo good…',
      ),
    ).toBe('Look! so good…')
  })

  it('keeps an e-mail-free sentence as it is', () => {
    expect(cleanText('Det er fredag, endelig.')).toBe('Det er fredag, endelig.')
  })
})
