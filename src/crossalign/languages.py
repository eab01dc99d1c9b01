"""The one table of language codes -> English names used everywhere in crossalign.

Canonical codes are ISO 639-1 where one exists (``zh``, ``sw``), else ISO 639-3 (``ceb``).
Every ISO 639-3 code of a listed language, the macro-language members Tatoeba uses
(``cmn``, ``pes``, ``swh``, ``zsm``, ``lvs``...) and a few dataset spellings (XWinograd's
``jp``) are aliases of the canonical code. Region and script subtags (``pt_BR``,
``zh-Hant``, ``sr@latin``) are accepted by :func:`normalize` and reduced to the base language.

Coverage (checked by the tests): the 52 Bactrian-X languages, every language of XNLI,
XCOPA, XStoryCloze, XWinograd and PAWS-X, and the 112 Tatoeba languages of LASER/XTREME.
"""

from __future__ import annotations

import re

# canonical code: (English name, ISO 639-3 code)
LANGUAGES: dict[str, tuple[str, str]] = {
    "af": ("Afrikaans", "afr"), "am": ("Amharic", "amh"), "ar": ("Arabic", "ara"),
    "as": ("Assamese", "asm"), "ast": ("Asturian", "ast"), "awa": ("Awadhi", "awa"),
    "az": ("Azerbaijani", "aze"), "be": ("Belarusian", "bel"), "ber": ("Berber", "ber"),
    "bg": ("Bulgarian", "bul"), "bn": ("Bengali", "ben"), "br": ("Breton", "bre"),
    "bs": ("Bosnian", "bos"), "ca": ("Catalan", "cat"), "cbk": ("Chavacano", "cbk"),
    "ceb": ("Cebuano", "ceb"), "ch": ("Chamorro", "cha"), "cs": ("Czech", "ces"),
    "csb": ("Kashubian", "csb"), "cy": ("Welsh", "cym"), "da": ("Danish", "dan"),
    "de": ("German", "deu"), "dsb": ("Lower Sorbian", "dsb"), "dtp": ("Central Dusun", "dtp"),
    "el": ("Greek", "ell"), "en": ("English", "eng"), "eo": ("Esperanto", "epo"),
    "es": ("Spanish", "spa"), "et": ("Estonian", "est"), "eu": ("Basque", "eus"),
    "fa": ("Persian", "fas"), "fi": ("Finnish", "fin"), "fo": ("Faroese", "fao"),
    "fr": ("French", "fra"), "fy": ("Western Frisian", "fry"), "ga": ("Irish", "gle"),
    "gd": ("Scottish Gaelic", "gla"), "gl": ("Galician", "glg"), "gsw": ("Swiss German", "gsw"),
    "gu": ("Gujarati", "guj"), "ha": ("Hausa", "hau"), "he": ("Hebrew", "heb"),
    "hi": ("Hindi", "hin"), "hr": ("Croatian", "hrv"), "hsb": ("Upper Sorbian", "hsb"),
    "ht": ("Haitian Creole", "hat"), "hu": ("Hungarian", "hun"), "hy": ("Armenian", "hye"),
    "ia": ("Interlingua", "ina"), "id": ("Indonesian", "ind"), "ie": ("Interlingue", "ile"),
    "ig": ("Igbo", "ibo"), "io": ("Ido", "ido"), "is": ("Icelandic", "isl"),
    "it": ("Italian", "ita"), "ja": ("Japanese", "jpn"), "jv": ("Javanese", "jav"),
    "ka": ("Georgian", "kat"), "kab": ("Kabyle", "kab"), "kk": ("Kazakh", "kaz"),
    "km": ("Khmer", "khm"), "kn": ("Kannada", "kan"), "ko": ("Korean", "kor"),
    "ku": ("Kurdish", "kur"), "kzj": ("Coastal Kadazan", "kzj"), "la": ("Latin", "lat"),
    "lb": ("Luxembourgish", "ltz"), "lfn": ("Lingua Franca Nova", "lfn"), "lo": ("Lao", "lao"),
    "lt": ("Lithuanian", "lit"), "lv": ("Latvian", "lav"), "mai": ("Maithili", "mai"),
    "max": ("North Moluccan Malay", "max"), "mg": ("Malagasy", "mlg"), "mhr": ("Eastern Mari", "mhr"),
    "mk": ("Macedonian", "mkd"), "ml": ("Malayalam", "mal"), "mn": ("Mongolian", "mon"),
    "mr": ("Marathi", "mar"), "ms": ("Malay", "msa"), "mt": ("Maltese", "mlt"),
    "my": ("Burmese", "mya"), "nb": ("Norwegian Bokmal", "nob"), "nds": ("Low German", "nds"),
    "ne": ("Nepali", "nep"), "nl": ("Dutch", "nld"), "nn": ("Norwegian Nynorsk", "nno"),
    "no": ("Norwegian", "nor"), "nov": ("Novial", "nov"), "oc": ("Occitan", "oci"),
    "or": ("Odia", "ori"), "orv": ("Old Russian", "orv"), "pa": ("Punjabi", "pan"),
    "pam": ("Kapampangan", "pam"), "pl": ("Polish", "pol"), "pms": ("Piedmontese", "pms"),
    "ps": ("Pashto", "pus"), "pt": ("Portuguese", "por"), "qu": ("Quechua", "que"),
    "ro": ("Romanian", "ron"), "ru": ("Russian", "rus"), "sa": ("Sanskrit", "san"),
    "sd": ("Sindhi", "snd"), "si": ("Sinhala", "sin"), "sk": ("Slovak", "slk"),
    "sl": ("Slovenian", "slv"), "so": ("Somali", "som"), "sq": ("Albanian", "sqi"),
    "sr": ("Serbian", "srp"), "su": ("Sundanese", "sun"), "sv": ("Swedish", "swe"),
    "sw": ("Swahili", "swa"), "swg": ("Swabian", "swg"), "ta": ("Tamil", "tam"),
    "te": ("Telugu", "tel"), "tg": ("Tajik", "tgk"), "th": ("Thai", "tha"),
    "tk": ("Turkmen", "tuk"), "tl": ("Tagalog", "tgl"), "tr": ("Turkish", "tur"),
    "tt": ("Tatar", "tat"), "tzl": ("Talossan", "tzl"), "ug": ("Uyghur", "uig"),
    "uk": ("Ukrainian", "ukr"), "ur": ("Urdu", "urd"), "uz": ("Uzbek", "uzb"),
    "vi": ("Vietnamese", "vie"), "war": ("Waray", "war"), "wuu": ("Wu Chinese", "wuu"),
    "xh": ("Xhosa", "xho"), "yi": ("Yiddish", "yid"), "yo": ("Yoruba", "yor"),
    "yue": ("Cantonese", "yue"), "zh": ("Chinese", "zho"), "zu": ("Zulu", "zul"),
    "ang": ("Old English", "ang"), "arq": ("Algerian Arabic", "arq"),
    "arz": ("Egyptian Arabic", "arz"), "kw": ("Cornish", "cor"), "ile": ("Interlingue", "ile"),
}

# Alternative codes -> canonical. ISO 639-3 codes are added from the table below.
_EXTRA_ALIASES: dict[str, str] = {
    # macro-language members and spellings used by Tatoeba / LASER / datasets
    "cmn": "zh", "zho": "zh", "chi": "zh", "pes": "fa", "prs": "fa", "swh": "sw",
    "zsm": "ms", "lvs": "lv", "ekk": "et", "arb": "ar", "khk": "mn", "npi": "ne",
    "uzn": "uz", "azj": "az", "plt": "mg", "ory": "or", "pbt": "ps", "gaz": "om",
    "jp": "ja", "iw": "he", "in": "id", "ji": "yi", "tw": "ak",
    # ISO 639-2/B bibliographic codes people still meet
    "ger": "de", "fre": "fr", "dut": "nl", "cze": "cs", "gre": "el", "per": "fa",
    "rum": "ro", "slo": "sk", "alb": "sq", "arm": "hy", "geo": "ka", "baq": "eu",
    "wel": "cy", "ice": "is", "mac": "mk", "may": "ms", "bur": "my", "tib": "bo",
}
LANGUAGES.update({
    "om": ("Oromo", "orm"), "ak": ("Akan", "aka"), "bo": ("Tibetan", "bod"),
    "dv": ("Dhivehi", "div"), "mi": ("Maori", "mri"), "tet": ("Tetum", "tet"),
    "ckb": ("Central Kurdish", "ckb"), "ky": ("Kyrgyz", "kir"), "os": ("Ossetian", "oss"),
    "udm": ("Udmurt", "udm"), "cak": ("Kaqchikel", "cak"),
    "rw": ("Kinyarwanda", "kin"), "sn": ("Shona", "sna"), "ny": ("Chichewa", "nya"),
    "wo": ("Wolof", "wol"), "ln": ("Lingala", "lin"), "ff": ("Fula", "ful"),
})
LANGUAGES.pop("ile")  # "ie" is the ISO 639-1 code for Interlingue

ALIASES: dict[str, str] = {iso3: code for code, (_, iso3) in LANGUAGES.items() if iso3 != code}
ALIASES.update(_EXTRA_ALIASES)

_SUBTAG = re.compile(r"[-_@.]")


class UnknownLanguageError(ValueError):
    """A language code that is not in the table (the message names it)."""


def normalize(code: str) -> str:
    """Canonical code for ``code`` (``'cmn'`` -> ``'zh'``, ``'pt_BR'`` -> ``'pt'``).

    Raises :class:`UnknownLanguageError` naming the code when it is not known.
    """
    if not isinstance(code, str) or not code.strip():
        raise UnknownLanguageError(f"empty language code {code!r}")
    raw = code.strip()
    key = raw.lower()
    if key in LANGUAGES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    base = _SUBTAG.split(key, maxsplit=1)[0]
    if base in LANGUAGES:
        return base
    if base in ALIASES:
        return ALIASES[base]
    raise UnknownLanguageError(
        f"unknown language code {raw!r}: use an ISO 639-1 or ISO 639-3 code "
        f"(e.g. 'de' or 'deu'); see crossalign.languages.LANGUAGES for the {len(LANGUAGES)} known languages"
    )


def name(code: str) -> str:
    """English name of a language (``'zh'`` -> ``'Chinese'``), as the templates use it."""
    return LANGUAGES[normalize(code)][0]


def iso639_3(code: str) -> str:
    return LANGUAGES[normalize(code)][1]


def is_known(code: str) -> bool:
    try:
        normalize(code)
    except UnknownLanguageError:
        return False
    return True


# Languages of the benchmarks and resources crossalign knows about (codes as each dataset spells them).
BACTRIAN_X = ["af", "ar", "az", "bn", "cs", "de", "en", "es", "et", "fa", "fi", "fr", "gl", "gu", "he", "hi", "hr", "id", "it", "ja", "ka", "kk", "km", "ko", "lt", "lv", "mk", "ml", "mn", "mr", "my", "ne", "nl", "pl", "ps", "pt", "ro", "ru", "si", "sl", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "xh", "zh"]
XNLI = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]
XCOPA = ["et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh"]
XSTORYCLOZE = ["ar", "en", "es", "eu", "hi", "id", "my", "ru", "sw", "te", "zh"]
XWINOGRAD = ["en", "fr", "jp", "pt", "ru", "zh"]
PAWSX = ["de", "en", "es", "fr", "ja", "ko", "zh"]
TATOEBA = ["afr", "amh", "ang", "ara", "arq", "arz", "ast", "awa", "aze", "bel", "ben", "ber", "bos", "bre", "bul", "cat", "cbk", "ceb", "ces", "cha", "cmn", "cor", "csb", "cym", "dan", "deu", "dsb", "dtp", "ell", "epo", "est", "eus", "fao", "fin", "fra", "fry", "gla", "gle", "glg", "gsw", "heb", "hin", "hrv", "hsb", "hun", "hye", "ido", "ile", "ina", "ind", "isl", "ita", "jav", "jpn", "kab", "kat", "kaz", "khm", "kor", "kur", "kzj", "lat", "lfn", "lit", "lvs", "mal", "mar", "max", "mhr", "mkd", "mon", "nds", "nld", "nno", "nob", "nov", "oci", "orv", "pam", "pes", "pms", "pol", "por", "ron", "rus", "slk", "slv", "spa", "sqi", "srp", "swe", "swg", "swh", "tam", "tat", "tel", "tgl", "tha", "tuk", "tur", "tzl", "uig", "ukr", "urd", "uzb", "vie", "war", "wuu", "xho", "yid", "yue", "zsm"]
