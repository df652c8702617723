"""The word-level vocabulary: words seen >= 3 times in the training reports, specials first."""
from __future__ import annotations

from cbf.fields import SPECIAL_TOKENS
from cbf.text import clean_report
from cbf_tokenizers import WordTokenizer


def test_vocabulary_rule_min_count_three():
    reports = ["Heart normal. XXXX opacity.", "Heart normal. Effusion.", "Heart enlarged. XXXX opacity.",
               "Opacity XXXX."]
    tok = WordTokenizer(WordTokenizer.Config(min_count=3))
    tok.fit({"report": r} for r in reports)
    assert tok.vocab[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    words = set(tok.vocab[len(SPECIAL_TOKENS):])
    # heart x3, xxxx x3, opacity x3, "." x7; normal x2, effusion x1, enlarged x1 are out
    assert words == {"heart", "xxxx", "opacity", "."}
    rec = tok.annotate({"report": "Heart enlarged. XXXX."})
    assert rec["tokens"] == ["heart", "enlarged", ".", "xxxx", "."]
    assert rec["token_ids"][1] == tok.unk_id and rec["token_ids"][3] == tok.token_id("xxxx")


def test_vocabulary_is_deterministic_and_round_trips():
    reports = [{"report": f"the lungs are clear . case {i % 4}"} for i in range(20)]
    a, b = WordTokenizer(), WordTokenizer()
    a.fit(reports)
    b.fit(list(reversed(reports)))
    assert a.vocab == b.vocab
    c = WordTokenizer()
    c.load_state_dict(a.state_dict())
    ids = [c.token_id(t) for t in ["the", "lungs", "[SEP]", "clear"]]
    assert c.decode(ids) == "the lungs"


def test_truncation_to_max_length():
    tok = WordTokenizer(WordTokenizer.Config(min_count=1, max_length=4))
    tok.fit([{"report": "a b c d e f"}])
    assert len(tok.annotate({"report": "a b c d e f"})["token_ids"]) == 4


def test_r2gen_cleaning():
    assert clean_report("1. The heart is normal.  2. No effusion; lungs clear!") == \
        "the heart is normal . no effusion lungs clear ."
    assert clean_report("") == ""
