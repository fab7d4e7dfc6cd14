"""Tokenisation with Hugging Face ``tokenizers``: a pretrained model's own tokenizer (any
fast tokenizer that ``AutoTokenizer`` loads: BERT's WordPiece, RoBERTa's byte-level BPE, ...),
or a WordPiece vocabulary trained on the training split.

Every tokenizer wraps its documents between its classification and separator tokens
(``[CLS] tokens [SEP]``, ``<s> tokens </s>``); long documents are either truncated or cut
into chunks of ``max_length`` (each chunk wrapped the same way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

from labelwise.resources import minilm_dir

if TYPE_CHECKING:
    from labelwise.config import TokenizerConfig

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# the tokens that play each role, by convention: BERT-style first, then RoBERTa-style. A
# saved tokenizer.json names its tokens but not their roles; these find them again, and a
# pretrained tokenizer whose declared roles differ is refused when it is first loaded
ROLES = {"pad": ("[PAD]", "<pad>"), "cls": ("[CLS]", "<s>"), "sep": ("[SEP]", "</s>")}
ENCODE_BATCH = 1024  # texts per tokenizer call


class TextTokenizer:
    """Text -> token ids. Build with :meth:`minilm`, :meth:`train_wordpiece` or :meth:`load`."""

    def __init__(self, tokenizer: Tokenizer, kind: str) -> None:
        self.kind = kind
        self._tok = tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self.pad_id = self._role("pad")
        self.cls_id = self._role("cls")
        self.sep_id = self._role("sep")

    def _role(self, role: str) -> int:
        for token in ROLES[role]:
            idx = self._tok.token_to_id(token)
            if idx is not None:
                return int(idx)
        raise ValueError(f"the tokenizer has no {role} token (one of {', '.join(ROLES[role])}); "
                         "labelwise cannot use it")

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def vocabulary(self) -> list[str]:
        """Token strings by id: ``vocabulary()[i]`` is the token of id ``i`` (length
        ``vocab_size``; an id without a token, which the tokenizers here never have, is "")."""
        return [self._tok.id_to_token(i) or "" for i in range(self.vocab_size)]

    @classmethod
    def minilm(cls, path: str | Path | None = None) -> TextTokenizer:
        """The tokenizer of all-MiniLM-L6-v2 from its package folder, or of the model
        folder ``path``."""
        return cls.pretrained(Path(path) if path else minilm_dir())

    @classmethod
    def pretrained(cls, folder: str | Path) -> TextTokenizer:
        """A model folder's own tokenizer, as ``transformers.AutoTokenizer`` reads it (its
        special tokens, normalisation and vocabulary). It must be a fast tokenizer (the
        ``tokenizers`` library: what ``tokenizer.json`` holds), which a run directory saves."""
        from transformers import AutoTokenizer

        try:
            hf = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as err:
            raise ValueError(f"no tokenizer could be read from the model folder '{folder}' ({err})") from None
        if not hf.is_fast:
            raise ValueError(f"the tokenizer of '{folder}' has no fast version (tokenizer.json); "
                             "labelwise needs one")
        tok = cls(Tokenizer.from_str(hf.backend_tokenizer.to_str()), "pretrained")
        for role, found in (("pad", tok.pad_id), ("cls", tok.cls_id), ("sep", tok.sep_id)):
            declared = getattr(hf, f"{role}_token", None) or getattr(hf, {"cls": "bos", "sep": "eos"}.get(role, role) + "_token", None)
            if declared is not None and hf.convert_tokens_to_ids(declared) != found:
                raise ValueError(f"the tokenizer of '{folder}' uses {declared!r} as its {role} token, which "
                                 f"labelwise does not recognise (it knows {', '.join(ROLES[role])})")
        return tok

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

    def _raw_ids(self, texts: Sequence[str], limit: int | None) -> list[list[int]]:
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

    def encode_head_tail(self, texts: Sequence[str], max_length: int, head: int) -> list[list[int]]:
        """Ids of a text that does not fit ``max_length``: its first ``head`` tokens and as
        many of its last ones as fit, ``[CLS] head tail [SEP]`` (Sun et al., 2019, found the
        start and the end of a long review to carry most of its label)."""
        body = max_length - 2
        head = min(head, body)
        out = []
        for ids in self._raw_ids(texts, None):
            if len(ids) > body:
                ids = ids[:head] + ids[len(ids) - (body - head):]
            out.append([self.cls_id, *ids, self.sep_id])
        return out

    def documents(self, texts: Sequence[str], t: TokenizerConfig) -> list[list[list[int]]]:
        """Each text as a list of chunks of ids, as ``tokenizer.long_documents`` says:
        one chunk (``truncate``, ``head_tail``) or up to ``max_chunks`` (``chunk``). The
        training loop and every prediction path (PyTorch, ONNX) read documents through this."""
        if t.long_documents == "chunk":
            return self.encode_chunks(texts, t.max_length, t.max_chunks)
        if t.long_documents == "head_tail":
            return [[ids] for ids in self.encode_head_tail(texts, t.max_length, t.head_tokens)]
        return [[ids] for ids in self.encode(texts, t.max_length)]

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
