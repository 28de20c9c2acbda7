"""steps.cards holds every step's card as data, so that `runbook run` draws
its first screen without loading the steps' code (issue 12). The steps stay
the source: these tests fail when a card there differs from its step's own
(a title, a summary, a word, the order or the numbers), and say how it
should read."""

from __future__ import annotations

import dataclasses
import json
import textwrap

from runbook.model import StepCard
from runbook.step import Procedure
from steps import cards, procedure, way_back
from steps.facts import Red5Facts

INDENT = " " * 8


def source(card: StepCard) -> str:
    """The card as steps.cards writes it: its number, id, title and phase,
    then every field that is not StepCard's default."""
    head = (f"{card.number}, {_quoted(card.id)}, {_quoted(card.title)}, "
            f"Phase.{card.phase.name},")
    said = [head]
    for field in dataclasses.fields(StepCard)[4:]:
        value = getattr(card, field.name)
        if value != field.default:
            said.append(f"{field.name}=" + (_text(value, len(field.name) + 1)
                                           if isinstance(value, str) else repr(value)) + ",")
    return "    StepCard(\n" + "".join(f"{INDENT}{part}\n" for part in said) + "    ),\n"


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _text(value: str, after: int) -> str:
    """A string, in pieces that keep each line within 100 columns."""
    if len(INDENT) + after + len(_quoted(value)) <= 99:
        return _quoted(value)
    pieces = textwrap.wrap(value, 100 - len(INDENT) - 4 - 3, drop_whitespace=False)
    return "(\n" + "".join(f"{INDENT}    {_quoted(piece)}\n" for piece in pieces) \
        + f"{INDENT})"


def steps_own() -> list[StepCard]:
    return Procedure(procedure(), Red5Facts(), rollback=way_back()).cards()


def test_every_card_is_its_steps_own_in_the_procedures_order() -> None:
    held = [*cards.UPGRADE, *cards.WAY_BACK]
    own = steps_own()
    assert [card.id for card in held] == [card.id for card in own], \
        "steps.cards lists the steps in another order than steps.procedure and way_back"
    differ = [source(card) for card, was in zip(own, held, strict=True) if card != was]
    assert not differ, "steps.cards should read, for these steps:\n" + "".join(differ)


def test_the_way_back_alone_has_its_cards_numbered_after_the_upgrade() -> None:
    """`runbook rollback` runs no upgrade step; its cards keep their numbers."""
    alone = Procedure([], Red5Facts(), rollback=way_back(), upgrade=procedure()).cards()
    assert alone == cards.WAY_BACK


def test_a_card_written_out_reads_back_as_the_same_card() -> None:
    """What the first test prints is a card steps.cards can take as it is."""
    from runbook.model import Phase

    for card in steps_own():
        assert eval(source(card).strip().rstrip(","), {"StepCard": StepCard,
                                                        "Phase": Phase}) == card
