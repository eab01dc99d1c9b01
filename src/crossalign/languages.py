"""Language codes -> canonical codes and English names, used everywhere in crossalign.

    normalize("cmn") == "zh"; normalize("zho_Hant") == "zh-Hant"; name("nso_Latn") == "Northern Sotho"

First our table (:data:`LANGUAGES`): canonical codes are ISO 639-1 where one exists (``zh``,
``sw``), else ISO 639-3 (``ceb``). Every ISO 639-3 code of a listed language, the macro-language
members Tatoeba uses (``cmn``, ``pes``, ``swh``, ``zsm``, ``lvs``...) and a few dataset spellings
(XWinograd's ``jp``) are aliases of the canonical code. Coverage (checked by the tests): the 52
Bactrian-X languages, every language of XNLI, XCOPA, XStoryCloze, XWinograd and PAWS-X, and the
112 Tatoeba languages of LASER/XTREME.

Any other code, and any code with subtags, is read as a BCP-47 tag by ``langcodes`` (IANA
registry and CLDR data; English names from ``language_data``): FLORES-200 codes (``nso_Latn``),
ISO 639 codes outside the table (``fil``, ``haw``), POSIX/gettext locales (``pt_BR``,
``sr@latin``, ``zh_TW.Big5``). Region and variant subtags are dropped (``pt_BR`` -> ``pt``), but
the script is kept when it is not the language's usual one, so that texts in two scripts stay two
languages for retrieval and prompts: ``zh-Hant`` (also ``zh_TW``, ``zh_HK``: their script is
Traditional) is "Chinese (Traditional)", ``sr-Latn`` / ``sr@latin`` is "Serbian (Latin)", while
``zh-Hans``, ``zh_CN``, ``deu_Latn`` and ``srp_Cyrl`` are the table's ``zh``, ``de`` and ``sr``
(the usual script, from CLDR's likely subtags, says nothing more). A code that neither knows is
an :class:`UnknownLanguageError` naming it.
"""

from __future__ import annotations

import functools
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
# gettext locale modifiers that name a script (sr@latin, uz@cyrillic); other modifiers
# (ca@valencia, de@euro) are variants and dropped like a region.
_MODIFIER_SCRIPTS = {"latin": "Latn", "cyrillic": "Cyrl", "arabic": "Arab", "devanagari": "Deva"}
# A script that is part of a language's usual composite script is that script (FLORES-200 writes
# Korean kor_Hang, CLDR's usual script for Korean is Kore = Hangul + Han).
_PART_OF = {"Kore": {"Hang"}, "Jpan": {"Hira", "Kana", "Hrkt"}}
# Valid codes that name no single language.
_NOT_A_LANGUAGE = {"und", "mul", "mis", "zxx"}


class UnknownLanguageError(ValueError):
    """A language code that neither the table nor ``langcodes`` knows (the message names it)."""


def _unknown(raw: str) -> UnknownLanguageError:
    return UnknownLanguageError(
        f"unknown language code {raw!r}: use an ISO 639-1/639-3 code or a BCP-47 tag (e.g. 'de', "
        f"'deu', 'zh-Hant', FLORES-200 'nso_Latn'); crossalign.languages.LANGUAGES lists the "
        f"{len(LANGUAGES)} languages of our table, others are read by langcodes"
    )


def _bcp47(key: str) -> str:
    """A locale or FLORES code as a BCP-47 tag: ``sr@latin`` -> ``sr-latn``, ``zh_TW.Big5`` -> ``zh-tw``."""
    tag, _, modifier = key.partition("@")
    tag = tag.split(".", 1)[0].replace("_", "-")
    script = _MODIFIER_SCRIPTS.get(modifier.split(".", 1)[0])
    if script is not None:
        lang, _, rest = tag.partition("-")
        tag = "-".join(x for x in (lang, script, rest) if x)
    return tag


def _table_code(code: str) -> str | None:
    return code if code in LANGUAGES else ALIASES.get(code)


@functools.lru_cache(maxsize=4096)
def _resolve(key: str) -> tuple[str, str, str] | None:
    """(canonical code, English name, ISO 639-3 code) of a code outside the table's keys.

    None when ``key`` is not a well-formed tag at all; an unregistered subtag is an error.
    """
    import langcodes  # imported here: ~0.5 s with its name data, and most runs never need it

    try:
        tag = langcodes.Language.get(_bcp47(key))
    except (langcodes.LanguageTagError, ValueError):
        return None
    if not tag.is_valid() or not tag.language or tag.language in _NOT_A_LANGUAGE:
        raise _unknown(key)
    base = _table_code(tag.language) or tag.language
    script = tag.script
    if script is None and tag.territory is not None:
        script = langcodes.Language.make(language=tag.language, territory=tag.territory).maximize().script
    usual = langcodes.Language.get(base).maximize().script
    if script is not None and (script == usual or script in _PART_OF.get(usual, ())):
        script = None  # the language's usual script: zh-Hans is zh, deu_Latn is de
    if base in LANGUAGES:
        base_name, iso3 = LANGUAGES[base]
    else:
        base_name = langcodes.Language.get(base).language_name()
        if base_name.startswith("Unknown language"):  # registered but private use (qaa..qtz)
            raise _unknown(key)
        try:
            iso3 = langcodes.Language.get(base).to_alpha3()
        except LookupError:
            raise _unknown(key) from None
    if script is None:
        return base, base_name, iso3
    script_name = langcodes.Language.make(script=script).script_name()
    return f"{base}-{script}", f"{base_name} ({script_name})", iso3


def _lookup(code: str) -> tuple[str, str, str]:
    if not isinstance(code, str) or not code.strip():
        raise UnknownLanguageError(f"empty language code {code!r}")
    raw = code.strip()
    key = raw.lower()
    table = _table_code(key)
    if table is not None:
        return table, *LANGUAGES[table]
    try:
        found = _resolve(key)
    except UnknownLanguageError:
        raise _unknown(raw) from None
    if found is not None:
        return found
    table = _table_code(_SUBTAG.split(key, maxsplit=1)[0])
    if table is not None:  # a table language with a tail that is no BCP-47 tag (de_DE.ISO-8859-1@x)
        return table, *LANGUAGES[table]
    raise _unknown(raw)


def normalize(code: str) -> str:
    """Canonical code for ``code`` (``'cmn'`` -> ``'zh'``, ``'pt_BR'`` -> ``'pt'``, ``'zh_TW'`` -> ``'zh-Hant'``).

    Raises :class:`UnknownLanguageError` naming the code when it is not known.
    """
    return _lookup(code)[0]


def name(code: str) -> str:
    """English name of a language (``'zh'`` -> ``'Chinese'``, ``'zh-Hant'`` -> ``'Chinese (Traditional)'``),
    as the templates use it."""
    return _lookup(code)[1]


def iso639_3(code: str) -> str:
    """ISO 639-3 code of the language (``'zh-Hant'`` -> ``'zho'``: the script is not part of it)."""
    return _lookup(code)[2]


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
