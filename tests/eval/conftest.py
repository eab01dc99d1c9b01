"""Fixtures for the evaluation tests: XStoryCloze files in the published layout (the shared
data has none) and tiny models with room for few-shot prompts."""

from __future__ import annotations

import pytest

STORIES = {
    "en": [
        (
            "Tom went to the store.",
            "He wanted milk.",
            "The store was closed.",
            "He went home sad.",
            "Tom drank milk at the store.",
            "Tom had no milk that day.",
            2,
        ),
        (
            "Ana planted a seed.",
            "She watered it daily.",
            "Weeks passed.",
            "A sprout appeared.",
            "Ana was happy to see it grow.",
            "Ana never planted anything.",
            1,
        ),
        (
            "The dog barked all night.",
            "The neighbours complained.",
            "The owner apologised.",
            "He bought a new bed for the dog.",
            "The dog slept quietly after that.",
            "The dog was a cat.",
            1,
        ),
        (
            "Lee studied for the exam.",
            "He read every chapter.",
            "He slept well.",
            "He took the test.",
            "Lee failed because he never studied.",
            "Lee passed the exam.",
            2,
        ),
        (
            "It rained on Sunday.",
            "Mia stayed inside.",
            "She baked bread.",
            "The house smelled nice.",
            "Mia enjoyed the warm bread.",
            "Mia went swimming in the sun.",
            1,
        ),
        (
            "Sam lost his keys.",
            "He searched the house.",
            "He looked in the car.",
            "They were in his coat.",
            "Sam was relieved.",
            "Sam bought a horse.",
            1,
        ),
    ],
    "es": [
        (
            "Juan fue a la tienda.",
            "Quería leche.",
            "La tienda estaba cerrada.",
            "Volvió a casa triste.",
            "Juan bebió leche en la tienda.",
            "Juan no tuvo leche ese día.",
            2,
        ),
        (
            "Ana plantó una semilla.",
            "La regaba cada día.",
            "Pasaron semanas.",
            "Apareció un brote.",
            "Ana se alegró de verla crecer.",
            "Ana nunca plantó nada.",
            1,
        ),
        (
            "El perro ladró toda la noche.",
            "Los vecinos se quejaron.",
            "El dueño se disculpó.",
            "Compró una cama nueva.",
            "El perro durmió tranquilo.",
            "El perro era un gato.",
            1,
        ),
        (
            "Lee estudió para el examen.",
            "Leyó cada capítulo.",
            "Durmió bien.",
            "Hizo la prueba.",
            "Lee suspendió porque no estudió.",
            "Lee aprobó el examen.",
            2,
        ),
        (
            "Llovió el domingo.",
            "Mía se quedó dentro.",
            "Hizo pan.",
            "La casa olía bien.",
            "Mía disfrutó del pan caliente.",
            "Mía fue a nadar al sol.",
            1,
        ),
        (
            "Sam perdió sus llaves.",
            "Buscó en la casa.",
            "Miró en el coche.",
            "Estaban en su abrigo.",
            "Sam se sintió aliviado.",
            "Sam compró un caballo.",
            1,
        ),
    ],
}
HEADER = (
    "InputStoryid\tInputSentence1\tInputSentence2\tInputSentence3\tInputSentence4\t"
    "RandomFifthSentenceQuiz1\tRandomFifthSentenceQuiz2\tAnswerRightEnding"
)


def write_xstorycloze(root, *, header: bool = True):
    folder = root / "xstorycloze"
    folder.mkdir(parents=True, exist_ok=True)
    for lang, stories in STORIES.items():
        for split, rows in (("train", stories), ("eval", stories[3:])):
            lines = [HEADER] if header else []
            for i, s in enumerate(rows):
                lines.append("\t".join([f"story-{split}-{i}", *s[:6], str(s[6])]))
            path = folder / f"spring2016.val.{lang}.tsv.split_20_80_{split}.tsv"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def xstorycloze_files():
    """``write(root, header=True) -> root``: XStoryCloze files in the published layout."""
    return write_xstorycloze


@pytest.fixture
def data_dir(tmp_path, shared_data):
    """The shared data (symlinked) plus XStoryCloze fixture files, in one --data-dir."""
    for name in ("xnli", "xcopa", "pawsx", "xwinograd"):
        (tmp_path / name).symlink_to(shared_data / name)
    return write_xstorycloze(tmp_path)


@pytest.fixture(scope="session")
def long_model_factory():
    from crossalign.testing import tiny_model

    cache = {}

    def make(arch, tok):
        key = (arch, tok.padding_side)
        if key not in cache:
            cache[key] = tiny_model(arch, tok, max_positions=8192)
        return cache[key]

    return make
