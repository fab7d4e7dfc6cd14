from __future__ import annotations

from pathlib import Path

import numpy as np

from labelwise.data.collate import batch_order, collate
from labelwise.data.tokenize import TextTokenizer

CORPUS = ["the cat sat on the mat", "a dog barked at the cat", "cats and dogs"] * 20


def test_wordpiece_trained_on_train_round_trips(tmp_path: Path) -> None:
    tok = TextTokenizer.train_wordpiece(CORPUS, vocab_size=80, min_frequency=1)
    ids = tok.encode(["the cat sat"], max_length=16)[0]
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and len(ids) == 5
    assert tok.tokens("the catd") == ["the", "cat", "##d"]  # unknown word falls back to pieces
    tok.save(tmp_path / "tok.json")
    again = TextTokenizer.load(tmp_path / "tok.json")
    assert again.encode(["the cat sat"], 16) == [ids] and again.pad_id == tok.pad_id


def test_minilm_tokenizer_from_package() -> None:
    tok = TextTokenizer.minilm()
    assert tok.vocab_size == 30522 and tok.pad_id == 0 and tok.cls_id == 101
    assert tok.encode(["Hello world"], 8)[0] == [101, 7592, 2088, 102]


def test_truncation_and_chunks() -> None:
    tok = TextTokenizer.train_wordpiece(CORPUS, vocab_size=80, min_frequency=1)
    text = " ".join(["cat"] * 25)
    assert len(tok.encode([text], 10)[0]) == 10
    chunks = tok.encode_chunks([text], max_length=10, max_chunks=3)[0]
    assert [len(c) for c in chunks] == [10, 10, 10]
    assert all(c[0] == tok.cls_id and c[-1] == tok.sep_id for c in chunks)
    assert len(tok.encode_chunks([text], 10, 10)[0]) == 4  # 25 tokens / 8 per chunk


def test_collate_pads_and_maps_chunks() -> None:
    b = collate([[[5, 6, 7]], [[8], [9, 10]]], pad_id=0, targets=np.array([0, 1]))
    assert b.input_ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert b.attention_mask.sum(1).tolist() == [3, 1, 2]
    assert b.doc_index.tolist() == [0, 1, 1] and b.num_docs == 2


def test_batch_order_covers_every_index_once() -> None:
    lengths = list(np.random.default_rng(0).integers(1, 50, size=103))
    for shuffle in (False, True):
        got = np.concatenate(list(batch_order(lengths, 8, shuffle, np.random.default_rng(1))))
        assert sorted(got.tolist()) == list(range(103))
    a = [b.tolist() for b in batch_order(lengths, 8, True, np.random.default_rng(5))]
    b = [b.tolist() for b in batch_order(lengths, 8, True, np.random.default_rng(5))]
    assert a == b


def test_encoding_in_batches_gives_each_text_its_own_ids(monkeypatch) -> None:
    """Texts are tokenized a batch at a time (bounded memory on long corpora): the ids, cut
    or chunked, are those of each text encoded alone, in order."""
    import labelwise.data.tokenize as tokenize

    tok = TextTokenizer.train_wordpiece(CORPUS, vocab_size=80, min_frequency=1)
    texts = [" ".join(CORPUS[i : i + 1 + i % 7]) for i in range(9)] + [" ".join(CORPUS[:10])]
    alone = [tok.encode([t], 12)[0] for t in texts]
    alone_chunks = [tok.encode_chunks([t], 6, 3)[0] for t in texts]
    monkeypatch.setattr(tokenize, "ENCODE_BATCH", 2)
    assert tok.encode(texts, 12) == alone
    assert tok.encode_chunks(texts, 6, 3) == alone_chunks
    full = tok.encode_chunks([texts[-1]], 6, 100)[0]
    assert alone_chunks[-1] == full[:3] and len(full) > 3


def test_head_tail_keeps_the_start_and_the_end_of_long_documents() -> None:
    from labelwise.config import TokenizerConfig

    tok = TextTokenizer.train_wordpiece([" ".join(f"w{i}" for i in range(40))], vocab_size=200, min_frequency=1)
    long_text = " ".join(f"w{i}" for i in range(40))
    ids = tok.encode_head_tail([long_text, "w1 w2"], max_length=12, head=4)
    words = [tok._tok.id_to_token(i) for i in ids[0]]
    assert words == ["[CLS]", "w0", "w1", "w2", "w3", "w34", "w35", "w36", "w37", "w38", "w39", "[SEP]"]
    assert ids[1] == tok.encode(["w1 w2"], 12)[0]  # a short text is whole either way
    cfg = TokenizerConfig(max_length=12, long_documents="head_tail", head_tokens=4)
    assert tok.documents([long_text], cfg) == [[ids[0]]]
    assert len(tok.documents([long_text], TokenizerConfig(max_length=12, long_documents="chunk"))[0]) == 4
