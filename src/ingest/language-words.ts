/**
 * Frequent words per language, from general knowledge of each language: function words, the
 * commonest verbs and adverbs, and casual spellings seen in posts. Short posts carry few
 * trigrams but almost always a few of these, which is what franc misses.
 *
 * `strong`: frequent and characteristic words (count double); `common`: the rest. A word listed
 * for several languages is shared evidence and weighs less (see language.ts).
 */
export const LANGUAGE_WORDS: Record<string, { strong: string; common: string }> = {
  en: {
    strong:
      "the and is are you i'm it's that's don't can't didn't doesn't isn't wasn't won't i've i'll you're they're we're that what with this have just was were been would should could they their there about because really people gonna wanna",
    common:
      'a of to in it for not on be he she his her him them at but by from we say or an will my one all so up out if who get which go me when make can like time no know take into your good some see other than then now look only come its over think also back after use two how our work first well way even new want any these give day most us has had did does doing being got going thanks thank please love same never always every something anyone everyone nothing everything let oh ok okay yeah yes lol lmao omg tbh idk imo btw brb ngl smh rn pls ya im dont cant thats whats why where here still very much too thing things today tonight tomorrow yesterday more much many lot little bit sure right need feel made went said again',
  },
  de: {
    strong:
      'und ist nicht ich das die der sich auch noch aber wenn doch schon nur habe haben bin bist sind wird werden kann können muss dass oder heute jetzt sehr eine einen einem einer kein keine immer wieder halt eigentlich einfach gerade echt bitte danke leider mich mir dich dir uns euch nichts',
    common:
      'du er sie es wir ihr ein zu mit auf für von im in den dem des wie was so mal hab hat war waren mehr man gibt gut ja nein sein seine ihre am vom zum zur beim ins aus bei nach über unter vor bis durch gegen ohne um hier da dann denn weil ob als also wo wer warum weiß geht gehen macht machen viel viele alle alles etwas gar mein meine dein deine unsere ganz nochmal morgen gestern abend leute grad voll genau naja ach endlich',
  },
  nl: {
    strong:
      'het een niet dat ook maar nog wel naar jij zijn geen heb hebben heeft moet gaat gaan deze dit uit door want dus echt heel toch gewoon niks niets iets iemand jullie mijn vandaag waarom',
    common:
      'de en van ik je is die op te in met voor er om als aan bij wat dan zo hij ze we wij mij me was waren kan kunnen al nu hier daar of over veel meer even hun haar zou mag wil weet denk vind leuk goed morgen gisteren hoe wie altijd nooit',
  },
  fr: {
    strong:
      "est les une des pas je c'est j'ai qu'il qu'on n'est avec pour dans mais très tout tous être avoir suis ça ce cette ces aussi déjà toujours jamais rien vraiment beaucoup aujourd'hui trop quoi oui merci bonjour mdr ptdr",
    common:
      "le la un du de et à au aux en que qui ne tu il elle on nous vous ils elles mon ma mes ton ta tes son sa ses sur par plus ou où donc car si bien fait faire ai as a avait était sont es jsuis y'a ca encore quand comme moi toi lui leur leurs eux ici là non salut genre alors même peu demain hier chez sans",
  },
  es: {
    strong:
      'el los las del está están estoy pero muy también cuando dónde qué quién cómo porque tengo tiene puedo quiero gracias hola jaja jajaja jajajaja pues bueno vale hoy mañana ayer nada algo nadie siempre nunca todavía mucho hay eso esto',
    common:
      'la un una unos unas de al y o u que en es son estar ser fue era no sí si por para con sin sobre entre más ya como donde mi mis tu tus su sus yo tú él ella nosotros ellos ellas me te se nos os le les lo esta este esa ese aquí allí todo todos toda alguien bien mal hace hacer tienen tener va voy vamos ver puede creo sé así aún mucha poco otra otro wey',
  },
  pt: {
    strong:
      'não você vc isso isto muito também quando onde porque obrigado obrigada olá tá tô estou estão né gente kkk kkkk kkkkk kkkkkk ainda então agora tudo nada ninguém sempre nunca tenho têm hoje amanhã ontem pra pro mas uma',
    common:
      'o a os as um uns umas de do da dos das no na nos nas em e é que sim se por para com sem sobre mais já como quem eu tu ele ela nós vocês eles elas me te lhe meu minha meus minhas seu sua seus suas esse essa este esta aqui ali lá todo todos algo alguém bem mal faz fazer tem ter vai vou vamos ver posso pode quero oi ser foi era são assim pq tb tbm',
  },
  it: {
    strong:
      'il gli della delle alla allo alle nella nelle dalla sulla che non anche perché cosa sono questo questa quello quella oggi niente qualcosa qualcuno sempre molto più già ancora allora così proprio grazie ciao boh',
    common:
      'lo la i le un uno una di del dei da dal in nel con su per al ai agli dal dai nei sul sui tra fra e è si sì no ma come quando dove chi io tu lui lei noi voi loro mi ti ci vi ne mio mia tuo tua suo sua qui qua lì là domani ieri tutto tutti mai bene male fa fare ho hai ha abbiamo hanno sei siamo era stato poi dai',
  },
  ca: {
    strong:
      'els però molt també perquè això avui demà ahir gràcies doncs encara aquest aquesta nosaltres',
    common:
      'el la les un una de del dels i que no és per amb en més com quan on qui jo tu ell ella em et es ens us meu meva teu seu tot res sempre mai bé fer tinc té són sóc era ha han hem hola ara així',
  },
  fi: {
    strong:
      'ja ei että mutta kun niin tämä tää mitä joka olen oli ole olla kuin myös vain vaan nyt sitten kyllä kyl tosi minä mä sinä sä hän mun sun meidän teidän siis ihan vähän paljon hyvä hyvää kiitos moi joo juu eikä koska jos vielä sitä tässä siellä täällä missä miksi miten mikä kuka mitään jotain joku kaikki joten koko ollaan mennään tehdä aina koskaan tänään huomenna eilen oot ootte oon onko onks mut sit nii vaikka jälkeen kanssa ilman',
    common:
      'on se jo aika me te he ne nää noi sen en et emme ette eivät voi pitää tulee mennä meni tuli sanoi oliko just',
  },
  pl: {
    strong:
      'się nie że jest jak ale już tylko mnie jestem być był była było tego jego jej nas was oni mam masz są będzie może można bardzo jeszcze teraz dzisiaj dziś jutro wczoraj wszystko nic coś ktoś zawsze nigdy dlaczego czy gdzie kiedy dzięki dziękuję cześć też',
    common: 'i w na z to do co o po tak za od mi ten ta te tej ich my wy ja ty on ona bo no',
  },
  cs: {
    strong:
      'že už jen jsem být byl byla bylo jeho její mám má máš jsou bude může ještě teď dnes zítra včera všechno nic něco někdo vždy nikdy proč kde kdy protože díky ahoj taky také',
    common:
      'a v na se je to s z do jak ale co o po tak za od mě mi ten ta toho nás vás my vy oni já ty on ona',
  },
  tr: {
    strong:
      've bir bu için ile çok daha ama gibi ben sen biz siz onlar var yok değil olan olarak kadar sonra şey çünkü evet hayır bugün yarın dün şimdi neden nasıl nerede kim hiç artık bile teşekkürler merhaba benim senin bana sana',
    common: 'da de ne o mi mı mu mü her en ya hep',
  },
  id: {
    strong:
      'yang dan di ke dari ini itu dengan untuk tidak ada aku saya kamu kita kami mereka dia juga sudah akan bisa apa karena jadi tapi atau lagi sama banget aja nggak gak udah kalau kalo masih harus belum sangat besok kemarin terima kasih makasih',
    common: 'ya ga hari',
  },
  ro: {
    strong:
      'și în că este sunt mai care să din pentru dar sau foarte eu noi voi îmi îți acest această asta azi mâine ieri nimic ceva cineva mereu niciodată unde când cum mulțumesc bună salut',
    common: 'de la cu pe nu o un a am ai au ce se tu el ea ei ele mă te tot',
  },
  hu: {
    strong:
      'az és hogy nem is egy van volt meg csak már még ez azt én te ő vagyok vagy nagyon most holnap tegnap minden semmi valami valaki mindig soha miért hol mikor hogyan köszönöm szia igen mert lesz kell',
    common: 'a de ma mi ti ők',
  },
}

/**
 * Bokmål, Nynorsk, Danish and Swedish share most of their words and spell the rest a little
 * differently, so their words are one table: each line is the set of languages that write the
 * words after the colon that way. `!` marks the frequent, telling ones. Folded into
 * LANGUAGE_WORDS below.
 */
const NORDIC_WORDS = `
nb nn da sv: det! den som! på! med! om så men vi du han man var har kan må får få går kom ser se jo ja ingen eller under hos hans min din sin fin trist stor ny år tid dag folk barn mest skulle ville gjorde ni de i tre fem fredag hurra
nb nn da: og! er! at! for! til! også! her der mange alle alt andre dette ned over før ved godt vel nok altså faktisk skal vil kunne måtte sikkert ting nye gode god første når akkurat ingenting mine dine sine morgen fordi to fire seks ti høre
nb nn sv: av ut oss mot vår vårt mitt ditt sitt henne blir bli liten lite liksom bra helg helgen jobb alltid fram tusen sa sju
nb da sv: en helt tror kommer
nb nn: neste sist lenge sterk sterkt å! meg! deg! seg! nei! hei! takk! etter! igjen! aldri! kanskje! veldig! ei litt opp inn mellom nettopp kveld kvelden kjempe vondt gratulerer beste siste blitt hadde jente gutt våre åtte
nb da: lykke hvilken hvilke sammen jeg! ikke! hvordan! hvorfor! hvem! hvor! hvis! et bare! fra! hun! være! synes! da derfor selv komme ham disse deres egentlig virkelig allerede hjem hjemme elsker aften jobber gang hele kun frem syv lørdag søndag mandag dårlig gammel
nb sv: mer vet hennes ner grattis digg
da sv: mig! dig! sig! nu! efter! igen! aldrig! hej! nej! idag igår ondt blev
nn sv: utan då annan jobbar pengar ungar sjukt måndag
nb: sitter heter hva! noe! noen! mye! nå! ble! fikk! gikk! sier! gjør! gjøre! dere! hverandre sånn sånt deilig sykt ennå fortsatt uten annen annet tenker trenger snakker liker gleder penger uke uka uken skikkelig bursdag vært lese spørre kjøpe bruke
nn: heiter sjå! byrjar byrje eg! ikkje! kva! korleis! kvifor! kven! kvar! ho! dei! frå! ein! eit! noko! nokon! nokre! mykje! berre! meir! heilt! vere! vore! vart! vert! veit! seier! gjer! gjere! fekk! gjekk! trur! synest! tenkjer! kjem! òg! dykk deira hennar kvarandre sjølv slik heim heime saman sidan desse eigentleg allereie enno framleis dersom difor medan kome gong no me anna viss veke veka fyrste dårleg gamal skikkeleg verkeleg elskar likar snakkar gler treng herleg heile laurdag sundag høyre
da: næste sidst sidste længe stærk stærkt sidder hedder allesammen held hvad! noget! nogen! nogle! meget! af! ud! op! lidt! måske! sgu! tænker! siger! gøre! gør! fik! gik! bliver! blive! havde! os! jer! vores! sådan! dejlig! tak! altid! endnu! hvornår! mellem! uden! sagde! lige! rigtig! tillykke! have jeres hinanden dejligt fedt vildt tusind selvom imorgen arbejde arbejder intet hende hendes anden andet mit dit sit været blevet ind mod gennem bag ligesom rigtigt præcis pige dreng uge ugen penge job kedelig træt otte læse spørge købe bruge
sv: och! inte! jag! är! att! för! också! mycket! bara! vad! vem! hur! varför! när! där! här! kanske! något! någon! några! hon! vara! säger! tycker! tänker! måste! finns! alla! tack! redan! göra! gör! upp! fick! gick! från! till! hade! ska! nån nåt dom honom ni ett varit känner mellan allt inget jättebra jätte asså ändå imorgon kväll kvällen verkligen egentligen alltså typ mina dina sina våra varandra själv än ännu mycke även eftersom därför vilken vilka vilket vid genom bakom före innan gång sån sak saker människor tjej kille nya goda bästa första sista gammal dålig härlig skönt tråkig trött hem hemma morgon morgonen vecka veckan kunde faktiskt säkert precis ordentlig gillar älskar pratar arbetar behöver längtar blivit hela två fyra sex tio åtta lördag söndag
`

for (const line of NORDIC_WORDS.trim().split('\n')) {
  const [tags = '', words = ''] = line.split(':')
  for (const tag of tags.trim().split(' ')) {
    const list = LANGUAGE_WORDS[tag] ?? { strong: '', common: '' }
    LANGUAGE_WORDS[tag] = list
    for (const word of words.trim().split(' ')) {
      const strong = word.endsWith('!')
      const w = strong ? word.slice(0, -1) : word
      if (strong) list.strong = list.strong ? `${list.strong} ${w}` : w
      else list.common = list.common ? `${list.common} ${w}` : w
    }
  }
}
