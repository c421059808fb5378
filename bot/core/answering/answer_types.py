"""What a question asks for, and whether a sentence holds it: money, a quantity with its unit, a
duration, a time of day, a date, a count, a person, a place, an organisation, a reason.

Coarse cues ("a number") cannot tell "2,564 kg" from "15 minutes"; a question asking "how much did it
cost?" is not answered by a mass. These detectors are regular expressions, so they are noisy: they
feed the sentence ranking and the answerability model as evidence, never as a rule on their own.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from bot.core.ingest.lexical import tokenize

MONEY, QUANTITY, DURATION, TIME, DATE, COUNT, PERSON, PLACE, ORGANISATION, REASON, AGE = (
    "money quantity duration time date count person place organisation reason age".split()
)
TYPES = (MONEY, QUANTITY, DURATION, TIME, DATE, COUNT, PERSON, PLACE, ORGANISATION, REASON, AGE)

_NUMBER = r"(?<![\p{L}\d-])\d(?:[\d,.]*\d)?"
_WORD_NUMBER = (
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|dozen|dozens|hundreds|thousands|million|millions|billion|billions|trillion|a few|several)\b"
)
_ANY_NUMBER = rf"(?:{_NUMBER}|{_WORD_NUMBER})(?:\s+(?:million|billion|trillion|thousand|hundred))?"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_UNIT = (
    r"(?:kg|kilo(?:gram)?s?|kilogrammes?|g|grams?|tonnes?|tons?|t|lbs?|pounds|ounces?|oz|km|kilomet(?:er|re)s?|"
    r"m|met(?:er|re)s?|cm|mm|miles?|mi|feet|foot|ft|inch(?:es)?|yards?|mph|km/h|knots?|"
    r"litres?|liters?|l|gallons?|barrels?|acres?|hectares?|square\s+\w+|cubic\s+\w+|degrees?|°\s?[cf]?|"
    r"percent|per\s+cent|%|volts?|watts?|kw|mw|gw|hz|khz|mhz|ghz|bytes?|kb|mb|gb|tb|calories|"
    r"times|fold|lakh|crore|हज़ार|लाख|मील|किलो(?:ग्राम)?)"
)
_DURATION_UNIT = (
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|decades?|centuries|century|"
    r"सेकंड|मिनट|घंटे|दिन|साल)"
)

_PATTERNS: dict[str, regex.Pattern] = {
    MONEY: regex.compile(
        rf"[$€£¥₹]\s?{_NUMBER}|\b{_NUMBER}\s?(?:million|billion|thousand)?\s?(?:dollars?|euros?|pounds sterling|"
        r"rubles?|roubles?|rupees?|yen|yuan|francs?|marks|usd|eur|gbp)\b|\b(?:us\$|usd)\s?\d",
        regex.IGNORECASE,
    ),
    QUANTITY: regex.compile(rf"(?:{_ANY_NUMBER})[\s-]?{_UNIT}(?![\p{{L}}])", regex.IGNORECASE),
    DURATION: regex.compile(
        rf"(?:{_ANY_NUMBER}|a|an|several|few)[\s-]+{_DURATION_UNIT}\b|\b(?:for|over|during|within)\s+(?:the\s+)?"
        r"(?:next|past|following)\s+\w+\s+(?:years|months|days|weeks|hours)",
        regex.IGNORECASE,
    ),
    TIME: regex.compile(
        r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:a\.m\.|p\.m\.|am\b|pm\b)|\b\d{3,4}\s?(?:gmt|utc|est|edt|pst)\b|"
        r"\b(?:noon|midnight|dawn|dusk|morning|afternoon|evening)\b",
        regex.IGNORECASE,
    ),
    DATE: regex.compile(
        rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}|\b(?:1[0-9]|20)\d\d(?:s)?\b|\b\d{{1,2}}/\d{{1,2}}\b|"
        r"\b\d+(?:st|nd|rd|th)\s+century\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
        rf"\b{_MONTH}(?=\s|,)|"
        r"\b(?:जनवरी|फ़?रवरी|फरवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितं?म?बर|सितम्बर|अक्टूबर|नवं?म?बर|नवम्बर|दिसं?म?बर|दिसम्बर)\b",
        regex.IGNORECASE,
    ),
    COUNT: regex.compile(
        rf"{_ANY_NUMBER}|\d+(?:\.\d+)?\s?(?:सौ|हज़ार|हजार|लाख|करोड़|करोड)(?![\p{{L}}\p{{M}}])", regex.IGNORECASE
    ),
    PERSON: regex.compile(
        r"(?<![.!?]\s)(?<!^)\b\p{Lu}[\p{Ll}'’-]+(?:\s+(?:de|van|von|da|del|al|bin|le)?\s*\p{Lu}[\p{L}'’-]+){1,3}|"
        r"\b(?:mr|mrs|ms|dr|prof|sir|saint|king|queen|president|pope|astronaut|cosmonaut|general)\.?\s+\p{Lu}[\p{L}'’-]+|"
        r"@\w+",
    ),
    PLACE: regex.compile(
        r"\b(?:in|at|from|near|outside|inside|across)\s+(?:the\s+)?\p{Lu}[\p{L}'’-]+|"
        r"\b\p{Lu}[\p{L}'’-]+\s+(?:cosmodrome|city|county|river|island|islands|mountains?|valley|state|province|"
        r"region|coast|bay|sea|ocean|lake|street|square|airport)\b",
    ),
    ORGANISATION: regex.compile(
        r"\b\p{Lu}{2,6}\b|\b(?:\p{Lu}[\p{L}&'’-]+\s+){0,4}(?:Agency|Company|Corporation|Corp|Inc|Ltd|University|College|"
        r"Institute|Association|Society|Council|Committee|Party|Church|Bank|Group|Administration|Department|"
        r"Ministry|Office|Foundation|Organization|Organisation|Union|League|Club|Network|News|Times|Post|Press)\b",
    ),
    # "How old is he?" is answered by an age, not by any number near his name ("Expedition 57").
    AGE: regex.compile(
        rf"(?:{_ANY_NUMBER})[\s-]+years?[\s-]+old\b|\baged?\s+(?:of\s+)?\d+|\bat\s+(?:the\s+)?age\s+of\b|"
        r"\b\d+(?:st|nd|rd|th)\s+birthday\b|\bin\s+(?:his|her|their)\s+(?:teens|twenties|thirties|forties|fifties|"
        r"sixties|seventies|eighties|nineties)\b|\bउम्र\b|\d+\s+(?:साल|वर्ष)\s+(?:के|की)\b",
        regex.IGNORECASE,
    ),
    REASON: regex.compile(
        r"\b(?:because|due to|owing to|caused|cause|since|so that|in order to|as a result|thanks to|reason|after|"
        r"failed|failure|problem|trouble|led to|resulted)\b|\bक्योंकि|\bकारण",
        regex.IGNORECASE,
    ),
}

_MONEY_WORDS = (
    r"cost|costs|price|pay|paid|spend|spent|worth|budget|fund|funding|charge|earn|earned|salary|fee|"
    r"sell|sold|buy|bought"
)
_QUESTION_TYPES: list[tuple[regex.Pattern, tuple[str, ...]]] = [
    (
        regex.compile(
            rf"\bhow much\b.*\b(?:{_MONEY_WORDS})\b|\b(?:what|which)\s+(?:was|is)?\s*the\s+(?:price|cost)\b", regex.I
        ),
        (MONEY,),
    ),
    (
        regex.compile(
            r"\bhow (?:much|heavy|far|high|tall|big|large|fast|deep|wide|hot|cold|long is|long was)\b|"
            r"\bwhat (?:mass|weight|distance|altitude|height|speed|size|percentage|percent|temperature|area)\b|"
            r"\bकितना\b|\bकितनी\b",
            regex.I,
        ),
        (QUANTITY, COUNT),
    ),
    (regex.compile(r"\bhow many\b|\bwhat (?:number|amount)\b|\bकितने\b", regex.I), (COUNT, QUANTITY)),
    (
        regex.compile(
            r"\bhow old (?:is|was|are|were|will)\b|\bwhat (?:age|is the age)\b|\bकितनी उम्र\b|\bउम्र क्या\b", regex.I
        ),
        (AGE, DURATION),
    ),
    (regex.compile(r"\bhow long\b|\bhow old\b|\bwhat (?:period|duration)\b", regex.I), (DURATION, COUNT)),
    (regex.compile(r"\b(?:what|which|at what) time\b|\bwhat hour\b", regex.I), (TIME,)),
    (
        regex.compile(
            r"\bwhen\b|\b(?:what|which|in what) (?:year|date|day|month|century|decade|era|period)\b|"
            r"\bhow long ago\b|\bकब\b",
            regex.I,
        ),
        (DATE, TIME),
    ),
    (
        regex.compile(
            r"\b(?:which|what) (?:company|agency|organi[sz]ation|group|team|party|university|"
            r"outlet|newspaper|network|institution|body|firm|band|club|account|handle|website|site|channel|publication|"
            r"publisher)\b",
            regex.I,
        ),
        (ORGANISATION, PERSON),
    ),
    (
        regex.compile(
            r"\b(?:who|whom|whose)\b|\b(?:which|what) (?:astronaut|person|man|woman|people|king|queen|"
            r"president|scientist|author|writer|leader|cosmonaut|commander|player|artist)\b|"
            r"\bकौन\b|\bकिसने\b|\bकिसके\b|\bकिसको\b|\bकिसका\b|\bकिसकी\b",
            regex.I,
        ),
        (PERSON, ORGANISATION),
    ),
    (
        regex.compile(
            r"\bwhere\b|\b(?:which|what|in what) (?:country|city|state|place|town|region|continent|"
            r"location|site|river|island|area|province)\b|\bकहा[ँं]\b",
            regex.I,
        ),
        (PLACE,),
    ),
    (regex.compile(r"\bwhy\b|\bwhat (?:caused|was the reason|led to)\b|\bक्यों\b", regex.I), (REASON,)),
]

# Coarse question kinds, for the answerability model (one-hot).
KINDS = ("when", "who", "where", "how", "why", "what", "yesno", "other")
_KIND = [
    ("when", regex.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time|century)\b|\bकब\b", regex.I)),
    ("who", regex.compile(r"\b(?:who|whom|whose)\b|\bकौन\b|\bकिस(?:ने|के|को)\b", regex.I)),
    ("where", regex.compile(r"\bwhere\b|\bकहा[ँं]\b", regex.I)),
    ("how", regex.compile(r"\bhow\b|\bकितन|\bकैसे\b", regex.I)),
    ("why", regex.compile(r"\bwhy\b|\bक्यों\b", regex.I)),
    ("what", regex.compile(r"\b(?:what|which)\b|\bक्या\b", regex.I)),
    (
        "yesno",
        regex.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should)\b", regex.I),
    ),
]


def asked_types(question: str) -> tuple[str, ...]:
    """The answer types the question asks for, most specific first (empty: no typed answer)."""
    for pattern, types in _QUESTION_TYPES:
        if pattern.search(question):
            return types
    return ()


def question_kind(question: str) -> str:
    for kind, pattern in _KIND:
        if pattern.search(question):
            return kind
    return "other"


# Capitalised words that make a name an institution's or a place's, not a person's.
_NOT_PERSON = frozenset(
    """agency space station international european russian american national united states kingdom republic
    cosmodrome university college company corporation institute association society council committee party
    church bank group administration department ministry office foundation organization organisation union
    league club network news times post press city county river island mountain mountains valley state
    province region coast bay sea ocean lake street square airport base center centre north south east west
    new old great the of and january february march april may june july august september october november
    december monday tuesday wednesday thursday friday saturday sunday expedition module program programme""".split()
)


def _matches(text: str, kind: str) -> Iterable[regex.Match]:
    for match in _PATTERNS[kind].finditer(text, overlapped=kind == PERSON):
        if kind == PERSON and not match.group().startswith("@"):
            raw = match.group().split()
            words = [w.casefold().strip("'’") for w in raw]
            # Institutions and places, acronyms ("MS-10", "ESA") and model numbers are not people.
            if any(w in _NOT_PERSON for w in words) or any(w.isupper() or w.endswith("-") for w in raw):
                continue
            if text[match.end() : match.end() + 1].isdigit():
                continue
        yield match


def spans(text: str, kind: str) -> Iterable[str]:
    return (match.group() for match in _matches(text, kind))


NEAR = 4  # words: an answer usually stands next to the words the question shares with its sentence
FAR = 0.75  # what ``holds`` says of an answer of the first kind further away than that


def holds(text: str, wanted: tuple[str, ...], asked_terms: set[str]) -> float:
    """Whether ``text`` holds a span of a wanted type that the question does not already say: 1.0
    for the first type next to a word of the question (within ``NEAR`` words), 0.75 for one further
    away, 0.5 for a fallback type, else 0."""
    found = 0.0
    for rank, kind in enumerate(wanted):
        for match in _matches(text, kind):
            terms = set(tokenize(match.group()))
            if terms and terms <= asked_terms:
                continue
            if rank > 0:
                found = max(found, 0.5)
                break
            before = tokenize(" ".join(text[: match.start()].split()[-NEAR:]))
            after = tokenize(" ".join(text[match.end() :].split()[:NEAR]))
            if asked_terms & {*before, *after}:
                return 1.0
            found = max(found, FAR)
    return found
