"""The virtual chip's session as a state table (cardlib.chip.session): the table is complete, every state refuses
what it does not take with the status word the table names (driven on a real chip), transitions outside
TRANSITIONS are refused, secure messaging keys exist exactly in the secured states, and one BAC or PACE run is
under way at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chip_ca import SELECT_AID, aes_card, bac, ca_terminal, pace, run_ca, secure, send

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile
from cardlib.chip.chip import VirtualChip
from cardlib.chip.session import TABLE, TRANSITIONS, Action, Command, Refuse, Session, State
from cardlib.errors import CardlibError
from cardlib.lds.securityinfo import CardAccess
from cardlib.pki.eac import EACPKI
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACChip, BACTerminal
from cardlib.protocols.ca import CAChip
from cardlib.protocols.pace import PACEChip, PACEParameters, PACETerminal
from cardlib.protocols.sm import SecureMessaging
from cardlib.protocols.ta import TAChip
from cardlib.testing.cards import sample_card_image

# One well-formed command of each kind (its header passes the checks made before the state is asked).
SAMPLES: dict[Command, CommandAPDU] = {
    Command.SELECT: SELECT_AID,
    Command.READ_BINARY: CommandAPDU(0x00, 0xB0, 0x9E, 0x00, le=4),
    Command.GET_CHALLENGE: CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8),
    Command.EXTERNAL_AUTHENTICATE: CommandAPDU(0x00, 0x82, 0x00, 0x00, bytes(40), le=40),
    Command.INTERNAL_AUTHENTICATE: CommandAPDU(0x00, 0x88, 0x00, 0x00, bytes(8), le=256),
    Command.MSE_PACE: CommandAPDU(0x00, 0x22, 0xC1, 0xA4, bytes.fromhex("830102")),
    Command.MSE_CA: CommandAPDU(0x00, 0x22, 0x41, 0xA4, bytes.fromhex("8001FF")),
    Command.MSE_TA: CommandAPDU(0x00, 0x22, 0x81, 0xB6, bytes.fromhex("8303414243")),
    Command.MSE_OTHER: CommandAPDU(0x00, 0x22, 0x01, 0x02, bytes.fromhex("8001FF")),
    Command.GENERAL_AUTHENTICATE: CommandAPDU(0x00, 0x86, 0x00, 0x00, bytes.fromhex("7C00"), le=256),
    Command.PSO: CommandAPDU(0x00, 0x2A, 0x00, 0xBE, bytes.fromhex("7F2100")),
}


@cache
def eac_card() -> CardImage:
    """A synthetic card trusting a CVCA: after Chip Authentication it reaches CHIP_AUTHENTICATED."""
    cvca = EACPKI.generate(today=datetime.now(UTC).date() - timedelta(days=1)).cvca
    return sample_card_image(2, profile=ChipProfile(trusted_cvca=cvca))


def pace_terminal(image: CardImage) -> PACETerminal:
    assert image.secrets is not None
    info = CardAccess.decode(image.files["EF.CardAccess"]).pace_infos[0]
    assert info.parameter_id is not None
    return PACETerminal(image.secrets.can, "CAN", PACEParameters(info.protocol, info.parameter_id))


def into(state: State) -> tuple[VirtualChip, SecureMessaging | None]:
    """A chip driven into ``state`` the way a terminal gets it there, and the terminal's keys if secured."""
    image = eac_card() if state is State.CHIP_AUTHENTICATED else aes_card()
    chip = VirtualChip(image)
    assert send(chip, SELECT_AID).sw == 0x9000
    sm: SecureMessaging | None = None
    if state is State.BAC_CHALLENGED:
        assert send(chip, SAMPLES[Command.GET_CHALLENGE]).sw == 0x9000
    elif state is State.PACE:
        assert send(chip, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, pace_terminal(image).set_at_data())).sw == 0x9000
    elif state is State.SECURED:
        sm = bac(chip, image)
    elif state is State.CHIP_AUTHENTICATED:
        terminal = ca_terminal(image)
        assert run_ca(chip, pace(chip, image), terminal) == [0x9000, 0x9000]
        sm = terminal.complete()
    assert chip.state is state
    return chip, sm


def answer(chip: VirtualChip, sm: SecureMessaging | None, cmd: CommandAPDU) -> ResponseAPDU:
    return send(chip, cmd) if sm is None else secure(chip, sm, cmd)


# -- the table --------------------------------------------------------------------------------------


def test_every_state_but_ca_pending_says_what_it_does_with_every_command() -> None:
    for state, row in TABLE.items():
        assert set(row) == (set() if state is State.CA_PENDING else set(Command)), state
    assert set(TABLE) == set(TRANSITIONS) == set(State)


def test_every_action_is_taken_in_some_state() -> None:
    taken = {cell for row in TABLE.values() for cell in row.values() if isinstance(cell, Action)}
    assert taken == set(Action)


def test_secured_states_are_those_reached_through_bac_or_pace() -> None:
    assert {state for state in State if state.secured} == {State.SECURED, State.CA_PENDING, State.CHIP_AUTHENTICATED}
    plain_moves = {target for state in State if not state.secured for target in TRANSITIONS[state]}
    assert State.CA_PENDING not in plain_moves and State.CHIP_AUTHENTICATED not in plain_moves
    assert all(State.NO_SESSION in targets for targets in TRANSITIONS.values())


REFUSALS = [(state, command, cell.sw) for state, row in TABLE.items() for command, cell in row.items()
            if isinstance(cell, Refuse)]


@pytest.mark.parametrize(("state", "command", "sw"), REFUSALS, ids=[f"{s.name}-{c.name}" for s, c, _ in REFUSALS])
def test_a_state_refuses_what_it_does_not_take_and_stays(state: State, command: Command, sw: int) -> None:
    chip, sm = into(state)
    assert answer(chip, sm, SAMPLES[command]).sw == sw
    assert chip.state is state


def test_the_refusals_are_the_chips_status_words() -> None:
    refused = {(state.name, command.name): f"{sw:04X}" for state, command, sw in REFUSALS}
    assert refused[("NO_SESSION", "INTERNAL_AUTHENTICATE")] == "6982"  # Active Authentication after BAC/PACE
    assert refused[("NO_SESSION", "GENERAL_AUTHENTICATE")] == "6985"  # PACE step without MSE:Set AT
    assert refused[("BAC_CHALLENGED", "PSO")] == "6982"
    assert refused[("SECURED", "MSE_PACE")] == "6985"  # no PACE inside a session
    assert refused[("SECURED", "EXTERNAL_AUTHENTICATE")] == "6985"  # Terminal Authentication needs CA first
    assert refused[("CHIP_AUTHENTICATED", "MSE_OTHER")] == "6A86"


def test_header_checks_come_before_the_state() -> None:
    chip, _ = into(State.NO_SESSION)
    assert send(chip, CommandAPDU(0x00, 0x86, 0x01, 0x00, bytes.fromhex("7C00"), le=256)).sw == 0x6A86
    assert send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x01, bytes(40), le=40)).sw == 0x6A86
    assert send(chip, CommandAPDU(0x00, 0x84, 0x00, 0x00, le=16)).sw == 0x6700
    assert chip.state is State.NO_SESSION


# -- transitions --------------------------------------------------------------------------------------


def test_one_access_run_at_a_time() -> None:
    """GET CHALLENGE abandons a PACE run, MSE:Set AT a BAC challenge: the old run's next step gets 6985."""
    image = aes_card()
    chip, _ = into(State.PACE)
    assert send(chip, SAMPLES[Command.GET_CHALLENGE]).sw == 0x9000 and chip.state is State.BAC_CHALLENGED
    terminal = pace_terminal(image)
    assert send(chip, CommandAPDU(0x00, 0x86, 0x00, 0x00, terminal.general_authenticate_1(), le=256)).sw == 0x6985
    challenge = send(chip, SAMPLES[Command.GET_CHALLENGE]).data
    assert send(chip, CommandAPDU(0x00, 0x22, 0xC1, 0xA4, terminal.set_at_data())).sw == 0x9000
    assert image.secrets is not None
    data = BACTerminal(image.secrets.mrz_information).mutual_authenticate_data(challenge)
    assert send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40)).sw == 0x6985
    assert chip.state is State.PACE


def test_failed_runs_and_secure_messaging_errors_close() -> None:
    chip, _ = into(State.BAC_CHALLENGED)
    assert send(chip, SAMPLES[Command.EXTERNAL_AUTHENTICATE]).sw == 0x6300 and chip.state is State.NO_SESSION
    chip, _ = into(State.PACE)
    assert send(chip, CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x01", le=256)).sw == 0x6A80
    assert chip.state is State.NO_SESSION
    chip, _ = into(State.CHIP_AUTHENTICATED)
    assert send(chip, SELECT_AID).sw == 0x6987 and chip.state is State.NO_SESSION


def test_ca_switches_to_secured_without_a_cvca() -> None:
    image = aes_card()
    chip = VirtualChip(image)
    terminal = ca_terminal(image)
    assert run_ca(chip, pace(chip, image), terminal) == [0x9000, 0x9000]
    assert chip.state is State.SECURED
    sm = terminal.complete()
    assert secure(chip, sm, SAMPLES[Command.PSO]).sw == 0x6985  # no Terminal Authentication to run


_STAND_INS: dict[str, object] = {"bac": BACChip("L898902C<369080619406236"), "pace": object(), "ca": object(),
                                 "secure_messaging": object(), "next": object(), "ta": object()}
MOVES: dict[str, Callable[[Session], Session]] = {
    "close": lambda s: s.closed(),
    "bac": lambda s: s.bac_started(cast(BACChip, _STAND_INS["bac"])),
    "pace": lambda s: s.pace_started(cast(PACEChip, _STAND_INS["pace"])),
    "open": lambda s: s.opened(cast(SecureMessaging, _STAND_INS["secure_messaging"]), b"id",
                               cast(CAChip, _STAND_INS["ca"])),
    "ca": lambda s: s.ca_agreed(cast(SecureMessaging, _STAND_INS["next"])),
    "switch": lambda s: s.switched(cast(TAChip, _STAND_INS["ta"])),
    "switch without TA": lambda s: s.switched(None),
    "keep": lambda s: s.kept(),
}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(MOVES)), max_size=12))
def test_session_keys_exist_iff_the_state_is_secured_and_moves_follow_the_table(moves: list[str]) -> None:
    session = Session()
    for move in moves:
        try:
            following = MOVES[move](session)
        except CardlibError:
            continue  # a transition TRANSITIONS does not list (or with nothing to switch to): refused
        assert following.state in TRANSITIONS[session.state]
        session = following
        assert (session.secure_messaging is not None) == session.state.secured
        assert (session.bac is not None) == (session.state is State.BAC_CHALLENGED)
        assert (session.pace is not None) == (session.state is State.PACE)
        assert session.ta is None or session.state in (State.CA_PENDING, State.CHIP_AUTHENTICATED)


def test_an_unlisted_transition_is_refused() -> None:
    with pytest.raises(CardlibError, match="no transition from NO_SESSION to SECURED"):
        Session().opened(cast(SecureMessaging, object()), b"", None)
    with pytest.raises(CardlibError):
        Session(State.SECURED)  # secure messaging state without keys


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([*sorted(SAMPLES, key=lambda c: c.name), "BAC"]), max_size=12))
def test_any_command_sequence_moves_the_chip_along_the_table(steps: list[Command | str]) -> None:
    """Whatever the terminal sends in plain (and a correct MUTUAL AUTHENTICATE now and then), no transition outside
    the table happens (it would answer 6F00) and secure messaging is active exactly in the secured states."""
    image = aes_card()
    assert image.secrets is not None
    chip, challenge = VirtualChip(image), b""
    for step in steps:
        before = chip.state
        if step == "BAC":
            data = BACTerminal(image.secrets.mrz_information).mutual_authenticate_data(challenge or bytes(8))
            rsp = send(chip, CommandAPDU(0x00, 0x82, 0x00, 0x00, data, le=40))
            assert (rsp.sw == 0x9000) == (before is State.BAC_CHALLENGED)
        else:
            assert isinstance(step, Command)
            rsp = send(chip, SAMPLES[step])
            challenge = rsp.data if step is Command.GET_CHALLENGE else challenge
        assert rsp.sw != 0x6F00
        assert chip.state in TRANSITIONS[before]
        assert chip.secure_messaging_active == chip.state.secured
