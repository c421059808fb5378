"""Other names of the same thing ("Progress MS-10", "Progress 71", "71P"), declared by maintainers.

``knowledge/aliases.yaml`` lists groups of names::

    groups:
      - [Progress MS-10, Progress 71, 71P]
      - [ISS, International Space Station, space station]

Lexical matching and query expansion use them: a question naming one name retrieves passages naming
any, and in sentence scoring every name of a group counts as one term (a sentence saying "Progress
71" covers a question about "Progress MS-10" fully, not by half).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.ingest.lexical import Lexicon, tokenize

logger = logging.getLogger(__name__)

FILE_NAME = "aliases.yaml"
_CANONICAL = "@alias{}"


class AliasError(ValueError):
    """The aliases file is malformed; the message says where."""


@dataclass(frozen=True)
class Aliases:
    """Alias groups as term sequences (longest first), ready to match tokenized text."""

    groups: tuple[tuple[tuple[str, ...], ...], ...] = ()
    _phrases: tuple[tuple[tuple[str, ...], int], ...] = field(default=(), repr=False)

    @classmethod
    def from_groups(cls, groups: Sequence[Sequence[str]]) -> Aliases:
        tokenized = []
        for group in groups:
            names = tuple(dict.fromkeys(t for t in (tuple(tokenize(str(name))) for name in group) if t))
            if len(names) > 1:
                tokenized.append(names)
        phrases = sorted(
            ((names, number) for number, group in enumerate(tokenized) for names in group),
            key=lambda item: -len(item[0]),
        )
        return cls(tuple(tokenized), tuple(phrases))

    def __bool__(self) -> bool:
        return bool(self.groups)

    def canonical(self, terms: Sequence[str]) -> list[str]:
        """``terms`` with every name of a group replaced by the group's one token (longest match)."""
        if not self.groups:
            return list(terms)
        result: list[str] = []
        position = 0
        while position < len(terms):
            for phrase, number in self._phrases:
                if tuple(terms[position : position + len(phrase)]) == phrase:
                    result.append(_CANONICAL.format(number))
                    position += len(phrase)
                    break
            else:
                result.append(terms[position])
                position += 1
        return result

    def expand(self, terms: Sequence[str]) -> list[str]:
        """``terms`` plus the terms of every other name of each group they name (for BM25)."""
        expanded = list(terms)
        for token in self.canonical(terms):
            if token.startswith("@alias"):
                for phrase in self.groups[int(token.removeprefix("@alias"))]:
                    expanded.extend(term for term in phrase if term not in expanded)
        return expanded

    def lexicon(self, base: Lexicon) -> Lexicon:
        """``base`` with an idf for each group token: the mean idf of its names' rarest terms."""
        if not self.groups:
            return base
        extra = {}
        for number, group in enumerate(self.groups):
            extra[_CANONICAL.format(number)] = sum(max(base.idf(t) for t in phrase) for phrase in group) / len(group)
        return base.with_idf(extra)


def load_aliases(knowledge_dir: Path) -> Aliases:
    """The aliases declared in ``knowledge_dir/aliases.yaml``; none when the file is absent. A
    malformed file is reported and ignored: answering goes on without aliases."""
    path = knowledge_dir / FILE_NAME
    if not path.is_file():
        return Aliases()
    try:
        return parse_aliases(path.read_text(encoding="utf-8"), str(path))
    except (AliasError, OSError, UnicodeDecodeError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return Aliases()


def parse_aliases(text: str, where: str = FILE_NAME) -> Aliases:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AliasError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    groups = (data or {}).get("groups") if isinstance(data, dict | None) else None
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(n, str | int) for n in g) for g in groups
    ):
        raise AliasError(f"{where}: expected 'groups:', a list of lists of names")
    return Aliases.from_groups(groups)
