"""The ABC state machine, construct by construct: exactly which characters it allows next."""
from __future__ import annotations

import string

import pytest

from preprocessing.melody.abc_constraints import AbcConstraint

VOCABULARY = list(string.ascii_letters + string.digits + " |:[]{}()/,'^_=-<>~.\"!%\n")
NEVER = set("~.!\"%HxXyQ")  # decorations, chord symbols, comments and invisible rests are masked


def machine(**request: object) -> AbcConstraint:
    defaults = dict(meter="4/4", unit="1/8", key="D", bars=None, form=None, end_on_tonic=False)
    return AbcConstraint.from_request(**{**defaults, **request})


def after(constraint: AbcConstraint, body: str) -> set[str]:
    """The characters allowed after ``body`` (each of whose characters must be allowed)."""
    state = constraint.start()
    for char in body:
        state = constraint.advance(state, char)
    return {char for char, ok in zip(VOCABULARY, constraint.allowed(state, VOCABULARY)) if ok}


NOTE_STARTS = set("CDEFGABcdefgab^_=z")


FIRST_BAR = "DEFG ABcd|"  # after it, a short bar is no longer a pickup


def test_a_note_length_may_not_overflow_the_bar() -> None:
    # 6 units written, c still open: c2 fills the bar, c3/2 fits, c4 would overflow it.
    allowed = after(machine(), FIRST_BAR + "DEFG ABc")
    assert allowed == NOTE_STARTS | set("23/'-<>[{( ")
    assert after(machine(), FIRST_BAR + "DEFG ABc3") == {"/"}
    assert after(machine(), FIRST_BAR + "DEFG ABc3/") == {"2"}


def test_a_full_bar_closes_and_nothing_else_fits() -> None:
    assert after(machine(), "DEFG ABcd") == set("|/'- ")
    assert after(machine(), "DEFG ABcd ") == {"|"}
    assert after(machine(), "DEFG ABcd|") == NOTE_STARTS | set("|:][{( \n")  # "|]": no bars asked


def test_a_length_prefix_that_cannot_complete_is_refused() -> None:
    # One unit left: d3 overflows and so does d3/2, so "3" is refused although "3/2" is a length.
    assert "3" not in after(machine(), FIRST_BAR + "DEFG ABcd")
    # A quarter unit left: no tuplet fits ((3 needs half a unit).
    assert "(" not in after(machine(), FIRST_BAR + "DEFG ABc d/d//")
    assert "(" in after(machine(), FIRST_BAR + "DEFG ABc d/")


def test_a_pickup_is_a_short_first_bar() -> None:
    assert "|" in after(machine(), "A")
    assert "|" not in after(machine(), FIRST_BAR + "A")


def test_bars_mask_the_end_until_the_last_bar() -> None:
    constraint = machine(bars=2, end_on_tonic=True)
    assert after(constraint, "DEFG ABcd|") & {"]"} == set()
    # no tie out of the last bar, and no d/: the tune's last note is at least one unit long
    assert after(constraint, "DEFG ABcd|DEFG ABcd") == set("|' ")
    assert after(constraint, "DEFG ABcd|DEFG ABcd|") == {"]"}
    state = constraint.start()
    for char in "DEFG ABcd|DEFG ABcd|]":
        state = constraint.advance(state, char)
    assert constraint.is_complete(state) and constraint.allowed(state, VOCABULARY) == [False] * len(VOCABULARY)


def test_the_last_note_must_be_the_tonic() -> None:
    constraint = machine(bars=1, end_on_tonic=True)
    last_unit = after(constraint, "DEFG ABc")  # one unit left: only a tonic of one unit may fill it
    assert {"D", "d"} <= last_unit and not last_unit & set("EFGABCefgabcz")
    assert "|" in after(constraint, "DEFG ABcD")
    assert "/" not in after(constraint, "DEFG ABcD")  # D/ would leave a tonic shorter than a unit last


def test_the_last_note_is_at_least_one_unit_long() -> None:
    constraint = machine(bars=2, end_on_tonic=True)
    assert "/" not in after(constraint, FIRST_BAR + "DEFG ABc d")  # d/ would leave a tonic of half a unit last
    assert "|" in after(constraint, FIRST_BAR + "DEFG AB/c/d2")
    assert "|" in after(constraint, FIRST_BAR + "DEFG ABc/d3/2")


def test_a_tie_joins_only_the_same_pitch() -> None:
    # In D major c is c sharp: ^c and _d sound the same, =c does not.
    assert after(machine(), FIRST_BAR + "DEFG ABc-") == {"c", "^", "_"}
    assert after(machine(), FIRST_BAR + "DEFG ABc-^") == {"c"}
    assert after(machine(), FIRST_BAR + "DEFG ABc-_") == {"d"}
    assert after(machine(), FIRST_BAR + "DEFG ABcd-") == {"|"}
    assert after(machine(), FIRST_BAR + "DEFG ABcd-|") == {"d", "=", "\n"}
    assert "-" not in after(machine(), "z") and "-" not in after(machine(), "[ce]")


def test_a_note_after_an_accidental_on_its_letter_is_not_tied_nor_a_tonic_ending() -> None:
    # Readers disagree on whether =F lasts to the bar line: the F after it is ambiguous.
    assert "-" not in after(machine(), "=FF")
    assert "-" in after(machine(), "=F=F")
    last_unit = after(machine(key="F", bars=1, end_on_tonic=True), "_F EFG ABc")
    assert "F" not in last_unit and "=" in last_unit  # =F is the tonic, F ambiguous


def test_broken_rhythms_keep_the_grid() -> None:
    assert "/" not in after(machine(), "A>B/")  # B// halved is an eighth of a unit
    assert after(machine(), "A>") == set("CDEFGABcdefgab^_=z")
    assert ">" not in after(machine(), "A//")
    assert ">" not in after(machine(), "(3ABc")


def test_a_tuplet_holds_its_notes_of_one_length() -> None:
    allowed = after(machine(), "(3A2B2c")
    assert "2" in allowed and "3" not in allowed and " " not in allowed and "/" not in allowed
    assert after(machine(), "(3") == set("CDEFGABcdefgab^_=")
    assert " " in after(machine(), "(3A2B2c2")


def test_chords_and_grace_notes() -> None:
    assert "]" not in after(machine(), "[c")
    assert "]" in after(machine(), "[ce")
    assert "2" in after(machine(), "[ce]")
    assert "}" not in after(machine(), "{")
    assert after(machine(), "{g}") == set("CDEFGABcdefgab^_=")


def test_decorations_quotes_comments_and_invisible_rests_are_masked() -> None:
    for body in ("", "DE", "DEFG ABcd|"):
        assert after(machine(), body) & NEVER == set()


def test_newlines_and_spaces() -> None:
    assert "\n" in after(machine(), "DEFG ABcd|")
    assert "\n" not in after(machine(), "DEFG")
    assert "\n" not in after(machine(), "DEFG ABcd| ")
    assert " " not in after(machine(), "DEFG ")
    assert " " not in after(machine(), "")


def test_repeats_stay_balanced_without_a_form() -> None:
    constraint = machine(bars=2)
    assert after(constraint, "") >= {"|"} and ":" not in after(constraint, "")
    assert ":" not in after(constraint, "DEFG ABc2")
    assert ":" in after(constraint, "|:DEFG ABc2")
    assert ":" not in after(constraint, "|:DEFG ABcd")  # music21 reads "d:" as a field
    assert after(constraint, "|:DEFG ABc2|DEFG ABc2") >= {":"}
    assert "|" not in after(constraint, "|:DEFG ABc2|DEFG ABc2")  # the repeat must close


def test_a_form_opens_and_closes_its_repeats() -> None:
    constraint = machine(form="AABB", end_on_tonic=True)
    assert after(constraint, "") == {"|"}
    assert after(constraint, "|") == {":"}
    eight_bars = "DEFG ABcd|" * 7
    assert after(constraint, "|:" + eight_bars + "DEFG ABd2") == {":", " "}
    assert after(constraint, "|:" + eight_bars + "DEFG ABd2:") == {":"}  # "::" into B, repeated
    assert after(constraint, "|:" + eight_bars + "DEFG AB") & {"c"} == {"c"}  # c d could end on d
    assert "2" not in after(constraint, "|:" + eight_bars + "DEFG ABc")  # but c2 cannot end A


def test_a_whole_form_with_endings_and_a_pickup() -> None:
    constraint = machine(form="AABB", end_on_tonic=True)
    body = ("|:A|" + "DEFG ABcd|" * 6 + "DEFG ABcd|1 d4d/d/d2:|2 d6d|:A|"
            + "DEFG ABcd|" * 7 + "d4d/d/d2:|")
    state = constraint.start()
    for char in body:
        state = constraint.advance(state, char)
    assert constraint.is_complete(state)


def test_after_a_pickup_every_strain_opens_with_one_of_the_same_length() -> None:
    constraint = machine(form="AABB", end_on_tonic=True)
    strain_a = "|:A|" + "DEFG ABcd|" * 7 + "d4d/d/d2:"
    assert after(constraint, strain_a + ":") == NOTE_STARTS | set("[{( \n")  # B's pickup, not a bar line
    upbeat = after(constraint, strain_a + ":A")  # one unit, as long as A's pickup: it closes there
    assert {"|", "/"} <= upbeat and not upbeat & (set("2:") | NOTE_STARTS)
    assert after(constraint, strain_a + ":A|" + "DEFG ABcd|" * 7 + "d4d/d/d2") == {":", " "}  # B ends short too
    no_pickup = "|:" + "DEFG ABcd|" * 7 + "d8::"
    assert "|" not in after(constraint, no_pickup + "A")  # without a pickup, B's first bar is whole


def test_advance_names_a_refused_character() -> None:
    constraint = machine()
    with pytest.raises(ValueError, match=r"'9' is not allowed in strain 1, bar 1"):
        constraint.advance(constraint.advance(constraint.start(), "d"), "9")


@pytest.mark.parametrize("request_, message", [
    (dict(meter="5/9"), "unknown meter"),
    (dict(key="H"), "unknown key"),
    (dict(unit="3/8"), "unit note length"),
    (dict(bars=0), "at least 1"),
    (dict(form="AABB", bars=12), "16 written bars, not 12"),
    (dict(form="ABA"), "comes back"),
    (dict(form="AAAB"), "at most twice"),
])
def test_requests_that_cannot_be_met_are_refused(request_: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        machine(**request_)


def test_without_chromatic_no_accidental_may_be_written() -> None:
    diatonic = after(machine(chromatic=False), "DEF")
    assert not diatonic & set("^_=") and set("CDEFGABcdefgab") <= diatonic
    assert set("^_=") <= after(machine(), "DEF")  # chromatic (the machine's default) allows them


def test_an_open_ended_tune_closes_only_after_its_minimum_bars() -> None:
    bar = "DEFG ABcd|"  # the last "|" may still become "|]"
    assert "]" not in after(machine(min_bars=3), bar * 2)
    assert "]" in after(machine(min_bars=3), bar * 3)
    assert "]" in after(machine(), bar)  # the default minimum is one bar


def test_a_pickup_is_at_most_two_thirds_of_a_bar_and_leaves_room_for_the_final_tonic() -> None:
    assert "|" in after(machine(bars=2), "DEFG A")  # 5 of 8 units
    assert "|" not in after(machine(bars=2), "DEFG AB")  # 6 of 8: a bar that starts late
    # In 2/8 a pickup of 1.25 units is within two thirds, but would leave the final tonic 0.75.
    assert "|" not in after(machine(meter="2/8", bars=2, end_on_tonic=True), "D/E/F//")
    assert "|" in after(machine(meter="2/8", bars=2), "D/E/F//")
