"""The keyword and phrase sets: per language, per intent, each with a weight.

Phrases are regular expressions over the canonical text (``text.canonical``: lower case,
no accents, tokens separated by one space, apostrophes gone: "don't" is ``don t``). Two
shorthands: ``~`` skips up to two words, ``~~`` up to four (never punctuation, so a gap
stays inside a clause). Every phrase is anchored on word boundaries when compiled.

A phrase starting with ``!`` contains a negation word of its own ("why not") and is never
read as negated.

Weights: ``SURE`` for a phrase that all but settles the intent ("unsubscribe", "not the
right person"), ``STRONG`` for a clear one ("send me the deck"), ``SOME`` for a hint
("interesting"), ``HINT`` for a word that only tips a balance (a weekday, "?").

No phrase nests an unbounded quantifier inside another: gaps are bounded repetitions of
``[a-z0-9]+ `` (letters then one space, which cannot overlap), so matching is linear in the
input whatever it holds.
"""

from __future__ import annotations

from services.inbound.intents.model import Intent, Language

SURE = 4.0
STRONG = 3.0
SOME = 2.0
HINT = 1.0

Phrases = tuple[tuple[str, float], ...]

I = Intent  # noqa: E741 - the tables below read better short


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The negation words that turn "interested" into "not interested" when they come just
# before it in the same clause ("we are not currently interested", "pas intéressé",
# "kein Interesse", "não tenho interesse"). "t" is what is left of "n't".
NEGATORS = _words(
    "not no never t dont isnt arent wont cant didnt doesnt wasnt werent havent hasnt "
    "wouldnt neither nor without hardly "
    "nunca ni sin tampoco "
    "pas ne n jamais aucun aucune sans "
    "nicht kein keine keinen keinem keiner nie ohne "
    "nao nem sem"
)
# Negations that follow the phrase: "das interessiert uns nicht".
TRAILING_NEGATORS = frozenset({"nicht", "pas"})

# Said with a refusal, these make it a "not now": "not interested at the moment", "no
# estamos interesados en este momento", "aktuell kein Bedarf".
TEMPORAL: dict[Language, str] = {
    "en": r"right now|at the moment|at (?:this|the) (?:time|stage|point)|currently|for now|"
    r"for the time being|this (?:year|quarter)|at present|yet",
    "es": r"en este momento|por ahora|de momento|actualmente|ahora mismo|por el momento|"
    r"todavia|aun|este ano",
    "fr": r"pour le moment|pour l instant|en ce moment|actuellement|pour l heure|"
    r"pour cette annee|encore",
    "de": r"im moment|momentan|derzeit|aktuell|zurzeit|gerade|vorerst|jetzt|dieses jahr",
    "pt": r"no momento|por enquanto|atualmente|agora|por ora|ainda|este ano",
}

# Function words, for telling the language apart when few phrases match.
STOPWORDS: dict[Language, frozenset[str]] = {
    "en": _words(
        "the and you we is are to for this thanks thank please our me i it of in not be with "
        "at can your my us have will would just if but that what how do does"
    ),
    "es": _words(
        "el la los las que por para con gracias estamos es una un mi su nos favor pero mas ya "
        "esta este le lo del al muy tenemos podemos puedes"
    ),
    "fr": _words(
        "le la les des et est nous vous pour merci pas une un je ce ca avec moi sur du plus "
        "mais sommes avons votre vos pouvez c j m"
    ),
    "de": _words(
        "der die das und ist wir sie nicht ich mit fur bitte danke ein eine uns es zu haben bei "
        "an mir ihnen ihre gerne aber auch noch wie"
    ),
    "pt": _words(
        "o os as que para com obrigado obrigada nao voce voces uma um e nos mais me da do sua seu "
        "por mas ja estamos temos pode favor"
    ),
}

# Said the same way in every language (or in none): times, links, question marks.
NEUTRAL: dict[Intent, Phrases] = {
    I.MEETING_REQUEST: (
        (r"calendly|cal com|hubspot com meetings|meetings hubspot|zcal|savvycal", SURE),
        (r"\d{1,2} ?(?:am|pm)|\d{1,2} \d{2} ?(?:am|pm)", HINT),
        (r"\d{1,2}h(?:\d{2})?|\d{1,2} h \d{2}", HINT),
        (r"zoom|teams|google meet|webex|whereby", HINT),
    ),
    I.QUESTION: ((r"\?", HINT),),
}

PHRASES: dict[Language, dict[Intent, Phrases]] = {
    "en": {
        I.INTERESTED: (
            (
                r"(?:i m|i am|we re|we are|we d be|i d be|would be|d be|definitely|very|really|"
                r"quite|possibly|might be|may be|be) ~inte?re?s+te?d",
                STRONG,
            ),
            (r"inte?re?s+te?d", SOME),
            (r"interesting|promising|intriguing", HINT),
            (
                r"(?:this|that|it) (?:is|s|looks|sounds|seems) (?:very |really |quite )?"
                r"(?:interesting|promising|relevant|useful)",
                SOME,
            ),
            (
                r"(?:sounds|looks|seems) (?:good|great|interesting|promising|relevant|useful|cool)",
                SOME,
            ),
            (
                r"(?:happy|keen|eager|curious|like|love|want) to (?:hear|learn|know|find out|"
                r"see) more|"
                r"(?:tell|show) me more|(?:hear|learn) more",
                STRONG,
            ),
            (
                r"what (?:s|are|would be) (?:the )?next(?: steps?)?|how (?:do|can|would) we "
                r"(?:get started|start|proceed|move forward|begin)|next steps",
                STRONG,
            ),
            (
                r"count me in|i m in|we re in|let s do (?:it|this)|let s explore|let s continue|"
                r"let s (?:move|take it) forward",
                STRONG,
            ),
            (
                r"(?:could|might|may|would) be (?:a )?(?:good |great )?(?:fit|useful|helpful|"
                r"relevant|valuable)",
                SOME,
            ),
            (
                r"(?:relevant|useful|helpful|valuable) (?:for|to) us|exactly what we (?:need|want)|"
                r"just what we need",
                STRONG,
            ),
            (r"good timing|great timing|perfect timing|interesting timing", SOME),
            (r"open to (?:it|this|that|looking|exploring|learning|a conversation|the idea)", SOME),
            (r"(?:definitely|very|really|quite|i m|we re|we are|i am) keen|keen to", SOME),
            (r"keen|definitely|absolutely|keep me posted|been (?:looking|meaning|wanting)", HINT),
            (r"!why not", HINT),
            (
                r"^(?:yes|yes please|yes pls|yep|yeah|sure|ok|okay|sounds good|great)(?: [.!,])*$",
                SOME,
            ),
            (r"^(?:yes|yep|yeah|sure)(?: [.!,])? ", HINT),
        ),
        I.MEETING_REQUEST: (
            (
                r"(?:set up|setup|schedule|book|arrange|organi[sz]e|have|do|jump on|hop on|get on|"
                r"grab|find time for|find a time for|plan) ~(?:call|meeting|demo|chat|zoom|"
                r"conversation|catch up|intro|slot|time)",
                STRONG,
            ),
            (
                r"let ?s (?:talk|meet|chat|speak|connect|catch up|jump on|hop on|find a time|"
                r"set something up|do a call|have a call|book)",
                STRONG,
            ),
            (
                r"(?:call|ring|phone) me|give me a (?:call|ring|buzz)|i ll call you|you can call|"
                r"call you",
                STRONG,
            ),
            (
                r"(?:can|could|shall|should) we (?:meet|chat|connect|catch up|"
                r"have a call|do a call|hop on|jump on)|meet (?:on|next|this|tomorrow|in person)",
                STRONG,
            ),
            (
                r"calendar (?:invite|invitation|link)|send (?:me )?(?:an |a )?invite|"
                r"meeting invite|"
                r"book a (?:time|slot|call|meeting)|pick a (?:slot|time)|grab a slot|your calendar|"
                r"my calendar|in my diary",
                STRONG,
            ),
            (
                r"(?:what s|what is|how s|how is) your (?:availability|schedule|calendar)|"
                r"your availability|are you (?:free|available)|do you have (?:time|\d{1,2} min|"
                r"a few minutes|some time)|i m (?:free|available)|i am (?:free|available)|"
                r"(?:free|available) (?:on|at|for|between|this|next|tomorrow)",
                STRONG,
            ),
            (
                r"(?:happy|glad|keen|up for|open) (?:to )?(?:a )?(?:meet|chat|talk|call|quick chat|"
                r"demo|\d{1,2} min)",
                SOME,
            ),
            (r"\d{1,2} (?:min|mins|minutes|minute)|half an hour", SOME),
            (r"demo|meeting|call|coffee|chat", HINT),
            (
                r"works (?:for me|best)|suits me|tomorrow|this week|next week|"
                r"(?:on )?the \d{1,2}(?:st|nd|rd|th)",
                HINT,
            ),
            (
                r"monday|tuesday|wednesday|thursday|friday|mon|tue|tues|wed|thu|thurs|fri|"
                r"morning|afternoon",
                HINT,
            ),
        ),
        I.BROCHURE_REQUEST: (
            (
                r"(?:send|email|e mail|mail|forward|share|shoot|pass) ~~(?:brochure|deck|one pager|"
                r"onepager|info|information|details|literature|materials?|documentation|docs|"
                r"presentation|pdf|overview|case stud(?:y|ies)|white ?paper|pricing|price list|"
                r"prices|product sheet|data ?sheet|spec sheet|video|slides|something to read|"
                r"collateral)",
                STRONG,
            ),
            (
                r"(?:do you have|have you got|is there|could i get|can i get|copy of|"
                r"could you share|"
                r"anything) ~(?:brochure|deck|one pager|literature|materials?|documentation|"
                r"presentation|pdf|overview|case stud(?:y|ies)|white ?paper|product sheet|"
                r"data ?sheet|"
                r"video|slides)",
                STRONG,
            ),
            (
                r"brochure|deck|one pager|onepager|white ?paper|case stud(?:y|ies)|data ?sheet|"
                r"product sheet|literature|collateral",
                SOME,
            ),
            (
                r"more (?:info|information|details)|read (?:something|up)|have a read|take a look|"
                r"documentation|materials?",
                HINT,
            ),
        ),
        I.QUESTION: (
            (
                r"how (?:much|many|long|does|do|is|are|would|will|can|exactly)|what (?:is|s|are|"
                r"does|"
                r"do|kind|exactly|problem|would)|which|who (?:else|gave|are|is)|where (?:did|do|is|"
                r"are)|why (?:do|did|would|should)",
                SOME,
            ),
            (r"^(?:do|does|is|are|can|could|will|would) (?:you|it|this|your|there|they)", SOME),
            (
                r"price|pricing|cost|costs|integrat\w{0,8}|gdpr|soc ?2|api|secur\w{0,6}|contract|"
                r"trial|hosted|compliance|compliant|support|on prem",
                HINT,
            ),
            (
                r"not sure (?:i|we) (?:follow|understand)|what do you mean|can you (?:explain|"
                r"clarify)",
                SOME,
            ),
        ),
        I.REFERRAL: (
            (
                r"(?:not|n t|nt) (?:really )?(?:the )?(?:right|best|correct|appropriate|relevant|"
                r"ideal) (?:person|contact|one|guy|people|team|department)|wrong (?:person|contact|"
                r"guy|department|team|address|email|person to ask)",
                SURE,
            ),
            (
                r"not my (?:area|department|team|remit|responsibility|call|decision|field|"
                r"wheelhouse|domain)|(?:i|we) (?:don t|dont|do not) (?:handle|deal with|manage|own|"
                r"look after|work on|cover|make)|not (?:involved|responsible)",
                SURE,
            ),
            (
                r"no longer (?:with|at|work|working|employed|in charge)|(?:i ve|i have) left|"
                r"i left|moved on|retired|not with (?:the company|them) anymore|left the company|"
                r"leaving the company",
                SURE,
            ),
            (
                r"(?:you should|you ll want to|you d want to|you may want to|you might want to|"
                r"better (?:off|placed)|best to|please|try|you could) ~(?:talk|speak|contact|"
                r"reach out|"
                r"get in touch|email|write|connect|direct)(?! (?:me|us)\b)",
                SOME,
            ),
            (
                r"(?:talk|speak|reach out|get in touch|connect) (?:to|with)|contact (?:my|our|him|"
                r"her)|"
                r"direct (?:future )?(?:emails|your email|this|it) to|try (?:my|our|him|her)",
                SOME,
            ),
            (
                r"(?:forwarded|forwarding|passed|passing|cc ing|cc d|ccing|copying|copied|"
                r"looping in|"
                r"loop in|added) (?:this|it|you|to|in|on|my|our|him|her)?",
                SOME,
            ),
            (
                r"(?:he|she|they|who) (?:handles|runs|owns|manages|deals with|looks after|"
                r"is in charge|"
                r"are in charge|is responsible|are responsible|does|would be)|person you want|"
                r"handles (?:all|this|that|vendor|vendors|these)|in charge of|responsible for|"
                r"owns (?:this|that|the budget)|my successor|instead",
                SOME,
            ),
            (
                r"colleague|manager|boss|successor|head of|cfo|cto|ceo|coo|director|vp|procurement|"
                r"purchasing|operations team|it team",
                HINT,
            ),
        ),
        I.LATER: (
            (
                r"not (?:right )?now|not at (?:the|this) (?:moment|time|stage|point)|"
                r"not (?:for )?the (?:moment|time being)|not yet|not this (?:year|quarter|month)|"
                r"not a priority|isn t a priority|not on our (?:radar|roadmap) (?:yet|right now)",
                STRONG,
            ),
            (
                r"(?:maybe|perhaps|possibly|probably) (?:later|down the (?:road|line)|"
                r"in the future|"
                r"next)|later (?:this|in the|next) (?:year|month|quarter)|down the (?:road|line)|"
                r"in the future|another time",
                STRONG,
            ),
            (
                r"(?:bad|wrong|poor|tough|busy|crazy|hectic) (?:time|timing|moment|period)|"
                r"(?:not|isn t) (?:a )?(?:good|great|the right|ideal) (?:time|timing|moment)|"
                r"timing (?:is|isn t|is not) ~(?:off|great|right|ideal|good)|the timing",
                STRONG,
            ),
            (
                r"(?:reach out|try|check back|check in|circle back|follow up|get back|come back|"
                r"reconnect|revisit|ping|contact|touch base|talk|speak|write|email|catch up|"
                r"pick (?:this|it) up|get in touch|reach me|hit me up|remind me|"
                r"come back to (?:me|us)) ~~(?:in|after|next|again|around|until|from|later|closer|"
                r"once|when)",
                SOME,
            ),
            (
                r"(?:too )?busy|swamped|slammed|snowed under|flat out|budget freeze|"
                r"(?:on|going on) (?:leave|holiday|vacation|parental leave|maternity leave)|"
                r"until (?:then|after)|get back to me then",
                HINT,
            ),
        ),
        I.NOT_INTERESTED: (
            (
                r"not (?:really |at all |currently |that |very )?inte?re?s+te?d|no interest|"
                r"not (?:of )?interest",
                SURE,
            ),
            (
                r"no (?:, )?(?:thanks|thank you|thx)|^no(?: [.!,])*$|^(?:nope|nah|pass|no way)"
                r"(?: [.!,])*",
                SURE,
            ),
            (
                r"(?:i ll|we ll|i will|we will|will|going to|gonna|have to) (?:pass|decline)|"
                r"decline|(?:won t|will not|not) (?:be )?(?:moving forward|proceeding|pursuing|"
                r"going ahead|taking this further)",
                SURE,
            ),
            (
                r"(?:we re|we are|i m|i am) (?:all )?(?:set|good|covered|fine|sorted)|we re good|"
                r"(?:happy|satisfied|content|fine) with (?:our|the|what we)",
                STRONG,
            ),
            (
                r"already (?:have|use|using|work with|working with|got|signed|partnered|invested)|"
                r"(?:current|existing) (?:provider|vendor|solution|supplier|tool)|"
                r"built (?:our|it|one) ~own|in house",
                SOME,
            ),
            (
                r"(?:don t|dont|do not|doesn t|does not) (?:really )?(?:need|want|require|see)|"
                r"no (?:need|use|requirement|budget|plans|appetite)|not (?:something|anything) "
                r"(?:we|i) (?:need|want)|isn t something|not (?:a )?(?:good )?(?:fit|match)|"
                r"not for (?:us|me)|not relevant|irrelevant|not (?:currently )?looking|"
                r"aren t looking|not in the market",
                STRONG,
            ),
            (r"good luck|all the best|best of luck", HINT),
        ),
        I.UNSUBSCRIBE: (
            (r"un ?su(?:b|bs|bb)?s?c?ri(?:b|v)e|unsub", SURE),
            (
                r"(?:remove|delete|drop|take|erase|scrub|strike) ~(?:me|my (?:email|address|"
                r"details|"
                r"data|information|name|contact)|us) ~(?:from|off)|remove me|delete my (?:data|"
                r"details|information|email|address)|take me off|off (?:your|this|the) (?:list|"
                r"mailing)",
                SURE,
            ),
            (
                r"(?:stop|quit|cease) (?:emailing|contacting|sending|spamming|messaging|writing|"
                r"mailing|e mailing|bothering|pestering|harassing)|"
                r"(?:do not|don t|dont|never|please don t) (?:ever )?(?:contact|email|e mail|"
                r"message|"
                r"write to|mail|bother) (?:me|us)|no more (?:emails|e mails|messages|mails)|"
                r"opt (?:me )?out",
                SURE,
            ),
            (r"^(?:stop|remove|unsubscribe|opt out)(?: [.!,])*$", SURE),
            (
                r"(?:didn t|did not|never) (?:consent|sign ?(?:ed)? up|opt ?(?:ed)? in|subscribe|"
                r"ask)|"
                r"mailing list|spam|gdpr",
                SOME,
            ),
        ),
    },
    "es": {
        I.INTERESTED: (
            (
                r"(?:me|nos) interesa|(?:estoy|estamos|estaria|"
                r"estariamos) (?:muy )?interesad[oa]s?",
                STRONG,
            ),
            (r"interesad[oa]s?", SOME),
            (r"interesante", HINT),
            (
                r"(?:quiero|quisiera|queremos|me gustaria|nos gustaria) (?:saber|conocer) mas|"
                r"cuentame mas|cuenteme mas|cuentanos mas|saber mas",
                STRONG,
            ),
            (
                r"(?:suena|me parece|nos parece) (?:muy )?(?:bien|interesante|genial|buena idea)",
                SOME,
            ),
            (
                r"(?:cuales|que) (?:son|serian|seran) los (?:siguientes|proximos) pasos|"
                r"como seguimos|siguientes pasos|proximos pasos",
                STRONG,
            ),
            (r"^(?:si|claro|vale|perfecto)(?: [.!,])*$", SOME),
            (r"^(?:si|claro) , ", HINT),
        ),
        I.MEETING_REQUEST: (
            (
                r"(?:agendar|agendemos|programar|programemos|organizar|organicemos|hagamos|hacer|"
                r"tener|tengamos|coordinar|coordinemos|fijar|fijemos) ~(?:llamada|reunion|demo|"
                r"demostracion|cita|videollamada|charla)",
                STRONG,
            ),
            (
                r"(?:podemos|podriamos|hablemos|reunamonos|vernos|veamonos) ~(?:hablar|reunirnos|"
                r"vernos|charlar|llamada)|(?:podemos|podriamos) hablar",
                STRONG,
            ),
            (
                r"llamame|llameme|te llamo|le llamo|me llamas|me puedes llamar|puede llamarme|"
                r"llamenme",
                STRONG,
            ),
            (
                r"(?:tienes|tiene|tienen) (?:disponibilidad|tiempo|un hueco)|disponibilidad|"
                r"disponible|hueco|invitacion",
                SOME,
            ),
            (r"llamada|reunion|demo|videollamada|cita", HINT),
            (
                r"a las \d{1,2}|lunes|martes|miercoles|jueves|viernes|manana|esta semana|"
                r"semana que viene|proxima semana|por la (?:manana|tarde)",
                HINT,
            ),
        ),
        I.BROCHURE_REQUEST: (
            (
                r"(?:envia|enviame|envieme|envienme|enviarme|enviar|enviarnos|manda|mandame|"
                r"mandeme|"
                r"mandar|mandarme|compartir|comparte|compartan|adjunta|pasame|pasar) ~~(?:folleto|"
                r"catalogo|presentacion|informacion|info|documentacion|precios|tarifas|dossier|pdf|"
                r"material|detalles|ficha)",
                STRONG,
            ),
            (
                r"(?:tienen|tienes|tiene|hay) ~(?:folleto|catalogo|presentacion|dossier|"
                r"documentacion|material)",
                STRONG,
            ),
            (r"folleto|catalogo|brochure|dossier|ficha tecnica", SOME),
            (r"mas informacion|mas info|documentacion|por correo", HINT),
        ),
        I.QUESTION: (
            (
                r"cuanto (?:cuesta|vale|cuestan|cobran|seria)|(?:cual|cuales) (?:es|son|seria) "
                r"(?:el|la|los|las) (?:precio|coste|costo|tarifa)s?",
                SOME,
            ),
            (
                r"se integra|funciona con|(?:tienen|trabajan) con|de donde|como funciona|"
                r"que (?:es|hace|incluye)|(?:hay|tienen) (?:prueba|version)",
                SOME,
            ),
            (r"precio|coste|costo|integracion|contrato|prueba gratuita", HINT),
        ),
        I.REFERRAL: (
            (
                r"no soy (?:yo )?(?:la persona|el|la|quien) ~(?:indicad[oa]|adecuad[oa]|"
                r"correct[oa]|"
                r"responsable|encargad[oa])|no (?:me )?(?:corresponde|encargo|llevo)|"
                r"no es (?:mi area|mi departamento|cosa mia)",
                SURE,
            ),
            (
                r"(?:ya )?no (?:trabajo|estoy) (?:en|con|para|mas)|deje la empresa|"
                r"ya no formo parte",
                SURE,
            ),
            (
                r"(?:habla|hable|hablar|contacta|contacte|contactar|escribe|escriba|escribir|"
                r"dirigete|dirijase|pregunta|pregunte) (?:con|a)",
                SOME,
            ),
            (
                r"(?:el|la) (?:responsable|encargad[oa])|se encarga|lleva (?:este|ese) tema|"
                r"quien (?:decide|lleva|gestiona)|te (?:paso|reenvio)|le (?:paso|reenvio)|"
                r"he reenviado|reenviado",
                SOME,
            ),
            (r"mi (?:companera|companero|jefe|jefa|colega|responsable)|departamento de", HINT),
        ),
        I.LATER: (
            (
                r"ahora (?:mismo )?no|no es (?:buen|el) momento|por ahora no|de momento no|"
                r"todavia no|aun no",
                STRONG,
            ),
            (
                r"mas adelante|en (?:el )?futuro|(?:quizas|quiza|tal vez) (?:mas )?(?:tarde|luego)",
                STRONG,
            ),
            (
                r"(?:escribeme|escribame|contactame|contacteme|contactanos|vuelve a|vuelva a|"
                r"hablemos|retomemos|retomamos|llamame|escribenos|busca(?:me)?) ~~(?:en|dentro|"
                r"despues|a partir|el proximo|la proxima|el ano|el mes)",
                SOME,
            ),
            (
                r"en este momento|por ahora|de momento|actualmente|ocupad[oa]s?|"
                r"cerrando el (?:trimestre|ano|mes)",
                HINT,
            ),
        ),
        I.NOT_INTERESTED: (
            (r"no (?:me|nos) interesa|sin interes|ningun interes", SURE),
            (r"no(?: ,)? gracias|^no(?: [.!,])*$", SURE),
            (r"no (?:lo )?(?:necesitamos|necesito)|no es para nosotros|no encaja", STRONG),
            (
                r"ya (?:trabajamos|tenemos|contamos|usamos|utilizamos)|otro proveedor|"
                r"proveedor actual",
                SOME,
            ),
        ),
        I.UNSUBSCRIBE: (
            (
                r"(?:darme|dame|denme|deme|darnos|dar) de baja|darse de baja|cancelar (?:la )?"
                r"suscripcion|desuscrib\w{0,8}|desuscripcion",
                SURE,
            ),
            (
                r"(?:elimina|eliminame|elimineme|eliminen|eliminar|borra|borrame|borren|quita|"
                r"quitame|quitenme|quiteme|saca|sacame|saquenme) ~~(?:lista|base de datos|correo|"
                r"mailing|contactos)",
                SURE,
            ),
            (
                r"(?:no|dejen de|deja de|deje de) ~(?:enviar|envien|envies|mandar|manden|mandes|"
                r"escribir|escriban|contactar|contacten) ~(?:mas )?(?:correos|emails|e mails|"
                r"mensajes|me)",
                SURE,
            ),
            (r"no (?:quiero|deseo) recibir|no me (?:escriban|contacten|envien) mas", SURE),
            (r"baja|spam", SOME),
        ),
    },
    "fr": {
        I.INTERESTED: (
            (
                r"(?:ca|cela) (?:m|nous) interesse|(?:m|nous) interesse|(?:suis|sommes|serais|"
                r"serions)"
                r" (?:tres )?interesse(?:e|s|es)?",
                STRONG,
            ),
            (r"interesse(?:e|s|es)?", SOME),
            (r"interessant(?:e|s|es)?", HINT),
            (
                r"en savoir plus|dites m en plus|(?:quelle|quelles) (?:est|sont) la suite|"
                r"prochaines? etapes?|(?:je veux|j aimerais|je voudrais) bien",
                STRONG,
            ),
            (r"partant(?:e|s)?|bonne idee|ca me (?:parle|tente)|volontiers", SOME),
            (r"!pourquoi pas", SOME),
            (r"^(?:oui|d accord|ok)(?: [.!,])*$", SOME),
            (r"^oui(?: ,)? ", HINT),
        ),
        I.MEETING_REQUEST: (
            (
                r"(?:organiser|planifier|caler|fixer|prendre|programmer|faire|avoir|bloquer) "
                r"~(?:appel|rendez vous|rdv|reunion|visio|demo|creneau|point|echange)",
                STRONG,
            ),
            (
                r"(?:on peut|pouvons nous|peut on|pourrait on|pourrions nous|on pourrait) "
                r"~(?:s appeler|se parler|echanger|se voir|se rencontrer|appeler|parler)|"
                r"s appeler|se parler",
                STRONG,
            ),
            (
                r"appelez moi|appelle moi|rappelez moi|je vous appelle|je vous rappelle|"
                r"vous pouvez m appeler",
                STRONG,
            ),
            (r"disponible|dispo|creneau|disponibilites|invitation|agenda", SOME),
            (r"appel|rendez vous|rdv|reunion|visio|demo|telephone", HINT),
            (
                r"lundi|mardi|mercredi|jeudi|vendredi|demain|semaine prochaine|cette semaine|"
                r"matin|apres midi",
                HINT,
            ),
        ),
        I.BROCHURE_REQUEST: (
            (
                r"(?:envoyer|envoyez|envoie|envoi|m envoyer|transmettre|transmettez|partager|"
                r"partagez|faire parvenir|adresser) ~~(?:plaquette|brochure|documentation|doc|"
                r"presentation|informations|infos|tarifs|grille tarifaire|catalogue|pdf|"
                r"fiche produit|support|dossier|elements)",
                STRONG,
            ),
            (
                r"(?:avez vous|auriez vous|vous avez|avez vous une|y a t il) ~(?:plaquette|"
                r"brochure|"
                r"documentation|presentation|catalogue|fiche|support|dossier)",
                STRONG,
            ),
            (r"plaquette|brochure|documentation|catalogue|fiche produit", SOME),
            (r"plus d informations|plus d infos|par mail|par e mail|par email", HINT),
        ),
        I.QUESTION: (
            (
                r"combien|quel (?:est|sont) (?:le|les) (?:prix|tarifs?|cout)|quels? (?:sont|est)",
                SOME,
            ),
            (
                r"est ce que|est ce compatible|compatible|ou avez vous|comment (?:ca|cela) "
                r"(?:marche|fonctionne)|qu est ce que|c est quoi",
                SOME,
            ),
            (r"prix|tarif|cout|rgpd|heberge\w{0,3}|contrat|essai gratuit", HINT),
        ),
        I.REFERRAL: (
            (
                r"pas (?:la|le) (?:bonne personne|bon interlocuteur|bon contact|"
                r"bonne interlocutrice)|"
                r"ce n est pas moi qui|ce n est pas (?:mon|de mon) (?:domaine|ressort|perimetre)|"
                r"(?:je ne suis|ne suis) pas (?:en charge|responsable|concerne)",
                SURE,
            ),
            (
                r"(?:ne|n) (?:fais|fait|travaille|suis) plus|plus (?:partie|dans) (?:de )?"
                r"(?:l entreprise|la societe)|j ai quitte",
                SURE,
            ),
            (
                r"(?:contactez|contacter|ecrivez|ecrire|adressez vous|voyez|voir|rapprochez vous|"
                r"tournez vous|joignez) ~(?:plutot|a|avec|aupres|vers)",
                SOME,
            ),
            (
                r"(?:gere|geree|s occupe|en charge|responsable) ~(?:par|de|des)|transfere|"
                r"transmis a|je transmets|je fais suivre",
                SOME,
            ),
            (r"(?:ma|mon) (?:collegue|responsable|manager|directeur|directrice)|dsi|achats", HINT),
        ),
        I.LATER: (
            (
                r"pas (?:pour le moment|maintenant|tout de suite|pour l instant|en ce moment|"
                r"cette annee|encore)|pas le bon moment|pas le moment",
                STRONG,
            ),
            (
                r"plus tard|a l avenir|(?:peut etre|plutot) (?:plus tard|l annee prochaine)|"
                r"ulterieurement",
                STRONG,
            ),
            (
                r"(?:recontactez|recontacter|recontacte|revenez|revenir|relancez|relancer|"
                r"reparlons|reprenons|reprendre|ecrivez|rappelez|refaites signe) ~~(?:dans|en|"
                r"apres|"
                r"a partir|l annee|le mois|d ici|au)",
                SOME,
            ),
            (r"pour l instant|en ce moment|actuellement|pour le moment|debordes?|budget", HINT),
        ),
        I.NOT_INTERESTED: (
            (
                r"pas interesse(?:e|s|es)?|aucun interet|sans interet|ne (?:m|nous) interesse pas",
                SURE,
            ),
            (r"non(?: ,)? merci|^non(?: [.!,])*$", SURE),
            (r"pas (?:besoin|pour nous|pertinent)|n avons pas besoin|ne correspond pas", STRONG),
            (
                r"(?:avons|ai) deja|deja (?:un|une) (?:outil|solution|prestataire|fournisseur)|"
                r"prestataire actuel",
                SOME,
            ),
        ),
        I.UNSUBSCRIBE: (
            (r"desinscri\w{0,8}|desabonn\w{0,8}|desinscription", SURE),
            (
                r"(?:retirer|retirez|supprimer|supprimez|enlever|enlevez|effacer|effacez|radiez|"
                r"rayez) ~~(?:liste|listes|fichier|fichiers|base|adresse|diffusion|contacts)",
                SURE,
            ),
            (
                r"(?:ne|n) (?:m |me |nous )?(?:ecrivez|contactez|envoyez|sollicitez) plus|"
                r"(?:arretez|arreter|cessez|cesser) ~(?:envoyer|ecrire|contacter|mails|emails|"
                r"messages|solliciter|m ecrire|m envoyer)",
                SURE,
            ),
            (r"spam|liste de diffusion", SOME),
        ),
    },
    "de": {
        I.INTERESTED: (
            (
                r"(?:haben|hatten|habe|hatte) ~interesse|(?:sind|bin|waren|ware) ~interessiert",
                STRONG,
            ),
            (r"interesse|interessiert", SOME),
            (r"interessant|spannend", HINT),
            (
                r"(?:mehr|naheres) (?:erfahren|dazu horen|wissen)|erzahlen sie (?:mir )?mehr|"
                r"wie geht es weiter|nachste schritte|(?:klingt|hort sich) ~(?:gut|interessant|"
                r"spannend)",
                STRONG,
            ),
            (r"^(?:ja|gerne|gern)(?: [.!,])*$", SOME),
            (r"^(?:ja|gerne)(?: ,)? ", HINT),
        ),
        I.MEETING_REQUEST: (
            (
                r"(?:lassen sie uns|lass uns|konnen wir|sollen wir|wollen wir|konnten wir) "
                r"~~(?:telefonieren|sprechen|treffen|austauschen|termin|call|demo)",
                STRONG,
            ),
            (r"rufen sie mich ~an|ruf mich ~an|ich rufe sie ~an|anrufen", STRONG),
            (
                r"terminvorschlag|termin (?:vereinbaren|ausmachen|finden|vorschlagen)|"
                r"(?:haben|hatten) sie ~zeit|zeit fur (?:ein|einen)|kalender|einladung",
                STRONG,
            ),
            (
                r"telefonieren|telefonat|gesprach|termin|treffen|videocall|vorfuhrung|demo|meeting",
                SOME,
            ),
            (
                r"\d{1,2} uhr|montag|dienstag|mittwoch|donnerstag|freitag|morgen|nachste woche|"
                r"diese woche|vormittag|nachmittag",
                HINT,
            ),
        ),
        I.BROCHURE_REQUEST: (
            (
                r"(?:schicken|senden|zusenden|ubermitteln|mailen|zukommen lassen|schicke|sende) "
                r"~~(?:unterlagen|informationen|infos|broschure|prasentation|preisliste|katalog|"
                r"pdf|"
                r"material|infomaterial|datenblatt|produktblatt|details)",
                STRONG,
            ),
            (
                r"(?:unterlagen|informationen|infos|broschure|prasentation|preisliste|katalog|"
                r"infomaterial|datenblatt) ~~(?:schicken|senden|zusenden|zukommen|mailen|"
                r"ubermitteln|haben sie)|haben sie ~(?:broschure|prasentation|preisliste|katalog|"
                r"unterlagen|infomaterial|datenblatt)",
                STRONG,
            ),
            (r"unterlagen|broschure|preisliste|katalog|infomaterial|datenblatt|produktblatt", SOME),
            (r"(?:weitere|mehr) informationen|per e mail|per mail", HINT),
        ),
        I.QUESTION: (
            (
                r"(?:was|wie viel|wieviel) kostet|was kosten|wie hoch (?:ist|sind)|"
                r"woher haben sie|wie funktioniert",
                SOME,
            ),
            (r"gibt es|funktioniert (?:das|es) mit|ist (?:das|es)|unterstutzt|konnen sie", SOME),
            (r"preis|kosten|dsgvo|schnittstelle|vertrag|testversion|integration", HINT),
        ),
        I.REFERRAL: (
            (
                r"nicht (?:der|die) (?:richtige|richtiger|passende|zustandige)|"
                r"(?:nicht|nicht mehr) zustandig|falsche(?:r|n)? (?:ansprechpartner\w{0,3}|person|"
                r"kontakt)",
                SURE,
            ),
            (
                r"(?:arbeite|bin) nicht mehr (?:bei|dort|in|fur|im)|nicht mehr (?:im unternehmen|"
                r"bei uns|in der firma|bei der firma)|habe das unternehmen verlassen",
                SURE,
            ),
            (
                r"(?:wenden sie sich|wende dich|melden sie sich) (?:bitte )?(?:an|bei)|"
                r"ansprechpartner(?:in)? (?:ist|ware|sind)|zustandig (?:ist|sind|dafur|ware)|"
                r"weitergeleitet|leite (?:das|es|ihre) ~weiter",
                SOME,
            ),
            (r"kollege|kollegin|chef|chefin|einkauf|vorgesetzte\w?|geschaftsfuhr\w{0,4}", HINT),
        ),
        I.LATER: (
            (
                r"(?:im moment|momentan|derzeit|aktuell|zurzeit|gerade|jetzt) (?:leider )?"
                r"(?:nicht|kein|keine|keinen)|noch nicht|nicht (?:der )?(?:richtige|"
                r"gute) zeitpunkt|"
                r"(?:nicht|kein) jetzt",
                STRONG,
            ),
            (
                r"(?:vielleicht|eventuell|gerne) (?:spater|wieder)|zu einem spateren zeitpunkt|"
                r"in zukunft|spater (?:nochmal|noch einmal|wieder)",
                STRONG,
            ),
            (
                r"(?:melden sie sich|kommen sie|kontaktieren sie|schreiben sie|rufen sie|"
                r"melde mich|"
                r"melden wir uns|ich melde mich) ~~(?:im|in|nach|ab|nachste|nachsten|wieder|"
                r"noch einmal|nochmal|gegen|anfang|ende)",
                SOME,
            ),
            (r"spater|im moment|momentan|derzeit|aktuell|zurzeit", HINT),
        ),
        I.NOT_INTERESTED: (
            (r"kein(?:erlei)? (?:interesse|bedarf)|nicht interessiert|kein interesse", SURE),
            (r"nein(?: ,)? danke|^nein(?: [.!,])*$", SURE),
            (
                r"(?:haben|nutzen|verwenden|arbeiten) (?:bereits|schon) ~~(?:losung|anbieter|tool|"
                r"system|dienstleister|partner)|bereits (?:eine|einen) (?:losung|anbieter)|"
                r"brauchen (?:wir )?(?:das )?nicht|nicht fur uns|passt nicht",
                STRONG,
            ),
        ),
        I.UNSUBSCRIBE: (
            (
                r"(?:entfernen|loschen|streichen|austragen|nehmen) ~~(?:verteiler|liste|adresse|"
                r"daten|"
                r"mailingliste|datenbank|e mail adresse)|(?:aus|von) (?:ihrem|ihrer|dem|der) "
                r"(?:verteiler|liste|mailingliste)",
                SURE,
            ),
            (r"austragen|abmelden|abbestellen|abmeldung", SURE),
            (
                r"(?:keine|nicht) (?:weiteren|mehr) (?:e mails|emails|mails|nachrichten|werbung|"
                r"anschreiben)|schreiben sie mir nicht mehr|kontaktieren sie mich nicht|"
                r"nicht mehr (?:kontaktieren|anschreiben|schreiben)",
                SURE,
            ),
            (r"spam|werbung", SOME),
        ),
    },
    "pt": {
        I.INTERESTED: (
            (
                r"(?:tenho|temos|teria|teriamos) (?:muito )?interesse|(?:estou|estamos|estaria|"
                r"estariamos) (?:muito )?interessad[oa]s?",
                STRONG,
            ),
            (r"interessad[oa]s?|interesse", SOME),
            (r"interessante", HINT),
            (
                r"(?:quero|gostaria de|queremos|gostariamos de) saber mais|(?:me conte|conte me|"
                r"pode me contar|conta) mais|saber mais|proximos? passos?",
                STRONG,
            ),
            (
                r"gostei|parece (?:bom|interessante|otimo|uma boa)|achei (?:bem |muito )?"
                r"(?:interessante|legal|otimo)|boa ideia",
                SOME,
            ),
            (r"^(?:sim|claro|pode ser|combinado)(?: [.!,])*$", SOME),
            (r"^sim(?: ,)? ", HINT),
        ),
        I.MEETING_REQUEST: (
            (
                r"(?:marcar|agendar|fazer|ter|combinar|marcamos|agendamos) ~(?:reuniao|ligacao|"
                r"chamada|call|demo|demonstracao|conversa|videochamada|horario)",
                STRONG,
            ),
            (
                r"(?:me liga|me ligue|ligue|pode ligar|te ligo|liga pra mim|liga para mim|"
                r"pode me ligar)",
                STRONG,
            ),
            (
                r"(?:podemos|vamos|poderiamos) (?:conversar|falar|marcar|nos reunir|bater um papo)",
                STRONG,
            ),
            (r"disponivel|disponibilidade|horario|convite|agenda", SOME),
            (r"reuniao|ligacao|chamada|call|demo|demonstracao|videochamada", HINT),
            (
                r"segunda feira|terca|quarta feira|quinta feira|sexta feira|amanha|semana que vem|"
                r"proxima semana|a tarde|de manha",
                HINT,
            ),
        ),
        I.BROCHURE_REQUEST: (
            (
                r"(?:envie|enviar|envia|enviem|me enviar|mande|mandar|manda|mandem|me mandar|"
                r"compartilhe|compartilhar|encaminhe) ~~(?:catalogo|apresentacao|informacoes|"
                r"informacao|material|materiais|folder|proposta|precos|tabela|pdf|portfolio|"
                r"detalhes)",
                STRONG,
            ),
            (
                r"(?:tem|tem um|tem uma|voces tem|possui|possuem) ~(?:catalogo|apresentacao|"
                r"material|"
                r"folder|portfolio|tabela)",
                STRONG,
            ),
            (r"catalogo|folder|portfolio|material|tabela de precos", SOME),
            (r"mais informacoes|por e mail|por email", HINT),
        ),
        I.QUESTION: (
            (
                r"quanto (?:custa|custaria|sai|cobram)|qual (?:e )?(?:o )?(?:preco|valor|custo)",
                SOME,
            ),
            (
                r"funciona com|(?:voces|vcs) (?:atendem|trabalham|tem|fazem)|onde (?:conseguiram|"
                r"conseguiu|pegaram|obtiveram|encontraram)|como funciona|(?:tem|existe) (?:periodo|"
                r"teste|versao)",
                SOME,
            ),
            (r"preco|custo|valor|integracao|contrato|teste gratis|teste gratuito|lgpd", HINT),
        ),
        I.REFERRAL: (
            (
                r"nao sou (?:eu )?(?:a pessoa|o responsavel|a responsavel|quem)|"
                r"nao (?:e|eh) (?:comigo|minha area|da minha area)|nao cuido",
                SURE,
            ),
            (
                r"nao trabalho mais|ja nao trabalho|sai da empresa|deixei a empresa|"
                r"nao estou mais (?:na|no|em|com)",
                SURE,
            ),
            (r"(?:fale|falar|entre em contato|procure|contate|contacte|converse) com", SOME),
            (
                r"quem (?:cuida|decide|responde|e responsavel|e o responsavel|trata)|cuida disso|"
                r"responsavel (?:por|pela|pelo)|encaminhei|repassei|vou encaminhar|vou repassar",
                SOME,
            ),
            (r"(?:meu|minha) (?:colega|gerente|chefe|diretor|diretora)|financeiro|compras", HINT),
        ),
        I.LATER: (
            (
                r"agora nao|(?:nao e|nao eh) (?:o |um )?(?:bom )?momento|ainda nao|"
                r"por enquanto nao|no momento nao",
                STRONG,
            ),
            (
                r"mais (?:tarde|para frente|pra frente|adiante)|futuramente|no futuro|"
                r"(?:talvez|quem sabe) (?:depois|mais)",
                STRONG,
            ),
            (
                r"(?:me procure|me procura|entre em contato|fale comigo|retome|retomamos|"
                r"volte a falar|me contate|me chame|vamos falar|podemos conversar|me escreva) "
                r"~~(?:em|daqui|depois|no proximo|na proxima|a partir|apos)",
                SOME,
            ),
            (r"no momento|por enquanto|atualmente|talvez", HINT),
        ),
        I.NOT_INTERESTED: (
            (
                r"nao (?:tenho|temos) interesse|sem interesse|nenhum interesse|nao (?:estou|"
                r"estamos) "
                r"interessad[oa]s?",
                SURE,
            ),
            (r"nao(?: ,)? obrigad[oa]|^nao(?: [.!,])*$", SURE),
            (r"nao (?:precisamos|preciso)|nao e para nos|nao faz sentido", STRONG),
            (r"ja (?:temos|usamos|utilizamos|trabalhamos com|possuimos)|fornecedor atual", SOME),
        ),
        I.UNSUBSCRIBE: (
            (
                r"(?:remova|remover|remove|retire|retirar|tire|tirar|exclua|excluir|apague|apagar) "
                r"~~(?:lista|e mail|email|contato|cadastro|base|listas)",
                SURE,
            ),
            (r"descadastr\w{0,8}|cancelar (?:a )?inscricao|desinscrever", SURE),
            (
                r"(?:nao quero|nao desejo) (?:mais )?receber|(?:pare|parem|deixe|"
                r"deixem) de ~(?:enviar|"
                r"mandar|escrever)|(?:nao|nunca mais) me (?:envie|enviem|mande|mandem|escreva|"
                r"contate)",
                SURE,
            ),
            (r"spam", SOME),
        ),
    },
}
