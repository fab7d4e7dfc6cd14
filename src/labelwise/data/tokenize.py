"""Tokenisation with Hugging Face ``tokenizers``: MiniLM's WordPiece, or one trained on train.

Every tokenizer wraps its documents as ``[CLS] tokens [SEP]``; long documents are either
truncated or cut into chunks of ``max_length`` (each chunk wrapped the same way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

from labelwise.resources import minilm_dir

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ENCODE_BATCH = 1024  # texts per tokenizer call


class TextTokenizer:
    """Text -> token ids. Build with :meth:`minilm`, :meth:`train_wordpiece` or :meth:`load`."""

    def __init__(self, tokenizer: Tokenizer, kind: str) -> None:
        self.kind = kind
        self._tok = tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self.pad_id = self._id("[PAD]")
        self.cls_id = self._id("[CLS]")
        self.sep_id = self._id("[SEP]")

    def _id(self, token: str) -> int:
        idx = self._tok.token_to_id(token)
        if idx is None:
            raise ValueError(f"tokenizer has no {token} token; it cannot be used by labelwise")
        return int(idx)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def vocabulary(self) -> list[str]:
        """Token strings by id: ``vocabulary()[i]`` is the token of id ``i`` (length
        ``vocab_size``; an id without a token, which the tokenizers here never have, is "")."""
        return [self._tok.id_to_token(i) or "" for i in range(self.vocab_size)]

    @classmethod
    def minilm(cls, path: str | Path | None = None) -> TextTokenizer:
        """The WordPiece tokenizer of all-MiniLM-L6-v2 from its package folder, or the
        ``tokenizer.json`` of another model folder ``path``."""
        folder = Path(path) if path else minilm_dir()
        file = folder / "tokenizer.json"
        if not file.is_file():
            raise ValueError(f"no tokenizer.json in model folder '{folder}'")
        return cls(Tokenizer.from_file(str(file)), "minilm")

    @classmethod
    def train_wordpiece(
        cls,
        texts: Iterable[str],
        vocab_size: int = 30000,
        min_frequency: int = 2,
        lowercase: bool = True,
    ) -> TextTokenizer:
        """A WordPiece vocabulary from ``texts`` (the training split): the most frequent
        words (ties broken alphabetically) plus every character seen, alone and as a
        ``##`` continuation, so unknown words fall back to pieces instead of ``[UNK]``.

        Built here rather than with the ``tokenizers`` trainer because that trainer breaks
        ties in a different order from run to run, and seeded runs must be reproducible.
        """
        tok = Tokenizer(WordPiece(vocab={t: i for i, t in enumerate(SPECIALS)}, unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        norm, pre = tok.normalizer, tok.pre_tokenizer
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)))
        chars = sorted({c for w in counts for c in w})
        pieces = [*chars, *(f"##{c}" for c in chars)]
        room = max(0, vocab_size - len(SPECIALS) - len(pieces))
        taken = set(pieces)
        ranked = sorted((w for w, n in counts.items() if n >= min_frequency and w not in taken),
                        key=lambda w: (-counts[w], w))
        vocab = {t: i for i, t in enumerate([*SPECIALS, *pieces, *ranked[:room]])}
        tok.model = WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100)
        return cls(tok, "wordpiece")

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    @classmethod
    def load(cls, path: str | Path, kind: str = "wordpiece") -> TextTokenizer:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"tokenizer file '{p}' is missing: the run directory is incomplete")
        return cls(Tokenizer.from_file(str(p)), kind)

    def _raw_ids(self, texts: Sequence[str], limit: int) -> list[list[int]]:
        """The first ``limit`` ids of each text. Texts are encoded a batch at a time: the
        tokenizer's per-token records (strings, offsets, masks) of a whole corpus of long
        documents took 12 GB for EURLEX57K's 45,000, where the ids kept need a few
        hundred MB."""
        texts = list(texts)
        out: list[list[int]] = []
        for s in range(0, len(texts), ENCODE_BATCH):
            encs = self._tok.encode_batch(texts[s : s + ENCODE_BATCH], add_special_tokens=False)
            out.extend(e.ids[:limit] for e in encs)
        return out

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """Truncated ids, ``[CLS] ... [SEP]``, at most ``max_length`` ids each."""
        body = max_length - 2
        return [[self.cls_id, *ids, self.sep_id] for ids in self._raw_ids(texts, body)]

    def encode_chunks(
        self, texts: Sequence[str], max_length: int, max_chunks: int
    ) -> list[list[list[int]]]:
        """Each text as up to ``max_chunks`` consecutive chunks of at most ``max_length`` ids."""
        body = max_length - 2
        out = []
        for ids in self._raw_ids(texts, body * max_chunks):
            starts = range(0, max(len(ids), 1), body)
            chunks = [[self.cls_id, *ids[s : s + body], self.sep_id] for s in starts]
            out.append(chunks[:max_chunks])
        return out

    def tokens(self, text: str) -> list[str]:
        """The word pieces of one text (for inspection)."""
        return list(self._tok.encode(text, add_special_tokens=False).tokens)
