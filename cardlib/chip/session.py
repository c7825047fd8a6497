"""The virtual chip's session as an explicit state table: each state, the commands it takes, where it may go.

Like h11's connection states, every state of :class:`~cardlib.chip.chip.VirtualChip`'s session is named
(:class:`State`), and :data:`TABLE` says, for each state and each command a terminal may send
(:class:`Command`), either what the chip does with it (:class:`Action`) or the status word it refuses it
with (:class:`Refuse`).  :data:`TRANSITIONS` lists where each state may go; :class:`Session` holds the state with
the protocol objects it needs (the BAC or PACE run, the secure messaging keys, the Chip and Terminal
Authentication states) and makes every transition, refusing one the table does not list.

The life of a session (ICAO 9303-11): outside one, GET CHALLENGE starts BAC and MSE:Set AT starts PACE (one
run at a time: each abandons the other); a successful BAC or PACE opens secure messaging (``SECURED``); Chip
Authentication agrees new keys (``CA_PENDING``: its answer still goes out under the old keys), then the chip
switches to them, and on a chip trusting a CVCA Terminal Authentication may run (``CHIP_AUTHENTICATED``).
A reset, a secure messaging error or an internal error closes the session from any state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from cardlib.errors import CardlibError
from cardlib.protocols.apdu import CommandAPDU
from cardlib.protocols.bac import BACChip
from cardlib.protocols.ca import CAChip
from cardlib.protocols.instructions import MSE, Ins, p1p2
from cardlib.protocols.pace import PACEChip
from cardlib.protocols.sm import SecureMessaging
from cardlib.protocols.status import SW_CONDITIONS, SW_SECURITY_STATUS, SW_WRONG_P1P2
from cardlib.protocols.ta import TAChip


class Command(Enum):
    """A command as the terminal sends it, named by its INS (and, for MSE, its P1-P2)."""

    SELECT = "SELECT"
    READ_BINARY = "READ BINARY"
    GET_CHALLENGE = "GET CHALLENGE"
    EXTERNAL_AUTHENTICATE = "EXTERNAL/MUTUAL AUTHENTICATE"
    INTERNAL_AUTHENTICATE = "INTERNAL AUTHENTICATE"
    MSE_PACE = "MSE:Set AT for PACE"
    MSE_CA = "MSE:Set AT/Set KAT for Chip Authentication"
    MSE_TA = "MSE:Set DST/Set AT for Terminal Authentication"
    MSE_OTHER = "MSE with any other P1-P2"
    GENERAL_AUTHENTICATE = "GENERAL AUTHENTICATE"
    PSO = "PERFORM SECURITY OPERATION"


_BY_INS: dict[int, Command] = {
    Ins.SELECT: Command.SELECT, Ins.READ_BINARY: Command.READ_BINARY, Ins.READ_BINARY_ODD: Command.READ_BINARY,
    Ins.GET_CHALLENGE: Command.GET_CHALLENGE, Ins.EXTERNAL_AUTHENTICATE: Command.EXTERNAL_AUTHENTICATE,
    Ins.INTERNAL_AUTHENTICATE: Command.INTERNAL_AUTHENTICATE, Ins.GENERAL_AUTHENTICATE: Command.GENERAL_AUTHENTICATE,
    Ins.PERFORM_SECURITY_OPERATION: Command.PSO}
_MSE_BY_P1P2: dict[int, Command] = {
    MSE.SET_AT_PACE: Command.MSE_PACE, MSE.SET_AT_CA: Command.MSE_CA, MSE.SET_KAT_CA: Command.MSE_CA,
    MSE.SET_DST_TA: Command.MSE_TA, MSE.SET_AT_TA: Command.MSE_TA}


def command_of(cmd: CommandAPDU) -> Command | None:
    """The :class:`Command` ``cmd`` is; None for an instruction the chip does not know (6D00)."""
    if cmd.ins == Ins.MANAGE_SECURITY_ENVIRONMENT:
        return _MSE_BY_P1P2.get(p1p2(cmd.p1, cmd.p2), Command.MSE_OTHER)
    return _BY_INS.get(cmd.ins)


class Action(Enum):
    """What the chip does with a command its session's state takes."""

    SELECT = "select a file"
    READ_BINARY = "read the current or named file"
    BAC_CHALLENGE = "give RND.IC, starting BAC (a random nonce on a chip without BAC)"
    BAC_MUTUAL_AUTHENTICATE = "check the terminal's cryptogram: BAC opens secure messaging"
    PACE_SET_AT = "choose the PACE password and parameters, starting PACE"
    PACE_STEP = "run the next GENERAL AUTHENTICATE of PACE; the last opens secure messaging"
    RANDOM_CHALLENGE = "give a random nonce"
    ACTIVE_AUTHENTICATION = "sign the terminal's challenge with the Active Authentication key"
    CHIP_AUTHENTICATION = "run Chip Authentication, agreeing the keys to switch to"
    TERMINAL_AUTHENTICATION = "run a step of Terminal Authentication"


@dataclass(frozen=True)
class Refuse:
    """A command the state does not take, and the status word the chip answers it with."""

    sw: int


class State(Enum):
    """The states of the chip's session."""

    NO_SESSION = "no session: plain, only EF.CardAccess readable"
    BAC_CHALLENGED = "BAC under way: RND.IC given, MUTUAL AUTHENTICATE awaited"
    PACE = "PACE under way: MSE:Set AT taken, GENERAL AUTHENTICATE steps awaited"
    SECURED = "secure messaging with the keys of BAC or PACE (or of Chip Authentication without a CVCA)"
    CA_PENDING = "Chip Authentication agreed new keys: its answer goes out under the old ones"
    CHIP_AUTHENTICATED = "secure messaging with Chip Authentication's keys: Terminal Authentication may run"

    @property
    def secured(self) -> bool:
        """True in the states where secure messaging protects every command and answer."""
        return self in _SECURED_STATES


_SECURED_STATES = frozenset({State.SECURED, State.CA_PENDING, State.CHIP_AUTHENTICATED})

_EVERYWHERE: dict[Command, Action | Refuse] = {
    Command.SELECT: Action.SELECT, Command.READ_BINARY: Action.READ_BINARY, Command.MSE_OTHER: Refuse(SW_WRONG_P1P2)}
_PLAIN: dict[Command, Action | Refuse] = {
    **_EVERYWHERE,
    Command.GET_CHALLENGE: Action.BAC_CHALLENGE,
    Command.MSE_PACE: Action.PACE_SET_AT,
    Command.EXTERNAL_AUTHENTICATE: Refuse(SW_CONDITIONS),  # no GET CHALLENGE before
    Command.GENERAL_AUTHENTICATE: Refuse(SW_CONDITIONS),  # no MSE:Set AT before
    Command.INTERNAL_AUTHENTICATE: Refuse(SW_SECURITY_STATUS),
    Command.MSE_CA: Refuse(SW_SECURITY_STATUS),
    Command.MSE_TA: Refuse(SW_SECURITY_STATUS),
    Command.PSO: Refuse(SW_SECURITY_STATUS),
}
_SECURED: dict[Command, Action | Refuse] = {
    **_EVERYWHERE,
    Command.GET_CHALLENGE: Action.RANDOM_CHALLENGE,
    Command.INTERNAL_AUTHENTICATE: Action.ACTIVE_AUTHENTICATION,
    Command.MSE_CA: Action.CHIP_AUTHENTICATION,
    Command.GENERAL_AUTHENTICATE: Action.CHIP_AUTHENTICATION,
    Command.MSE_PACE: Refuse(SW_CONDITIONS),  # BAC and PACE only outside a session
    Command.EXTERNAL_AUTHENTICATE: Refuse(SW_CONDITIONS),  # Terminal Authentication only after CA
    Command.MSE_TA: Refuse(SW_CONDITIONS),
    Command.PSO: Refuse(SW_CONDITIONS),
}
_TERMINAL_AUTHENTICATION = dict.fromkeys(
    (Command.GET_CHALLENGE, Command.EXTERNAL_AUTHENTICATE, Command.MSE_TA, Command.PSO), Action.TERMINAL_AUTHENTICATION)

TABLE: Mapping[State, Mapping[Command, Action | Refuse]] = {
    State.NO_SESSION: _PLAIN,
    State.BAC_CHALLENGED: {**_PLAIN, Command.EXTERNAL_AUTHENTICATE: Action.BAC_MUTUAL_AUTHENTICATE},
    State.PACE: {**_PLAIN, Command.GENERAL_AUTHENTICATE: Action.PACE_STEP},
    State.SECURED: _SECURED,
    State.CA_PENDING: {},  # lasts while the answer that agreed the keys is protected: no command arrives in it
    State.CHIP_AUTHENTICATED: {**_SECURED, **_TERMINAL_AUTHENTICATION},
}
"""For each state, what the chip does with each command, or the status word it refuses it with."""

TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.NO_SESSION: frozenset({State.NO_SESSION, State.BAC_CHALLENGED, State.PACE}),
    State.BAC_CHALLENGED: frozenset({State.NO_SESSION, State.BAC_CHALLENGED, State.PACE, State.SECURED}),
    State.PACE: frozenset({State.NO_SESSION, State.BAC_CHALLENGED, State.PACE, State.SECURED}),
    State.SECURED: frozenset({State.NO_SESSION, State.CA_PENDING}),
    State.CA_PENDING: frozenset({State.NO_SESSION, State.SECURED, State.CHIP_AUTHENTICATED}),
    State.CHIP_AUTHENTICATED: frozenset({State.NO_SESSION, State.CA_PENDING}),
}
"""The states each state may move to (every state may close, back to ``NO_SESSION``)."""

_HOLDS: Mapping[State, tuple[frozenset[str], frozenset[str]]] = {  # (objects needed, objects allowed) per state
    State.NO_SESSION: (frozenset(), frozenset()),
    State.BAC_CHALLENGED: (frozenset({"bac"}), frozenset({"bac"})),
    State.PACE: (frozenset({"pace"}), frozenset({"pace"})),
    State.SECURED: (frozenset({"secure_messaging"}), frozenset({"secure_messaging", "ca"})),
    State.CA_PENDING: (frozenset({"secure_messaging", "next_secure_messaging", "ca"}),
                       frozenset({"secure_messaging", "next_secure_messaging", "ca", "ta"})),
    State.CHIP_AUTHENTICATED: (frozenset({"secure_messaging", "ca", "ta"}),
                               frozenset({"secure_messaging", "ca", "ta"})),
}
_OBJECTS = ("bac", "pace", "secure_messaging", "next_secure_messaging", "ca", "ta")

T = TypeVar("T")


def held(value: T | None) -> T:
    """A protocol object the session's state holds (the table routes a command only where it is held)."""
    if value is None:
        raise CardlibError("the session's state does not hold what this command needs")
    return value


@dataclass(frozen=True)
class Session:
    """The chip's session: its :class:`State` and the protocol objects that state holds, nothing else.

    ``bac``/``pace`` is the access control run under way; ``secure_messaging`` the keys protecting the channel
    (with ``next_secure_messaging``, Chip Authentication's, while ``CA_PENDING``); ``ca`` the Chip
    Authentication state (None on a chip without a usable CA key); ``ta`` Terminal Authentication's;
    ``id_picc`` the chip's identifier for Terminal Authentication, set by BAC or PACE.  Each transition is a
    method returning the next session; one :data:`TRANSITIONS` does not list raises :class:`CardlibError`.
    """

    state: State = State.NO_SESSION
    bac: BACChip | None = None
    pace: PACEChip | None = None
    secure_messaging: SecureMessaging | None = None
    next_secure_messaging: SecureMessaging | None = None
    ca: CAChip | None = None
    ta: TAChip | None = None
    id_picc: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        needed, allowed = _HOLDS[self.state]
        present = {name for name in _OBJECTS if getattr(self, name) is not None}
        if not needed <= present <= allowed:
            raise CardlibError(f"a session {self.state.name} holds {sorted(present)}")

    def action(self, command: Command) -> Action | Refuse:
        """What the chip does with ``command`` in this state (:data:`TABLE`)."""
        return TABLE[self.state][command]

    def _to(self, following: Session) -> Session:
        if following.state not in TRANSITIONS[self.state]:
            raise CardlibError(f"no transition from {self.state.name} to {following.state.name}")
        return following

    def closed(self) -> Session:
        """No session: reset, a secure messaging error, an internal error or a failed BAC/PACE run."""
        return self._to(Session())

    def bac_started(self, bac: BACChip) -> Session:
        """GET CHALLENGE outside a session: BAC under way (any PACE run abandoned)."""
        return self._to(Session(State.BAC_CHALLENGED, bac=bac))

    def pace_started(self, pace: PACEChip) -> Session:
        """MSE:Set AT for PACE accepted: PACE under way (any BAC run abandoned)."""
        return self._to(Session(State.PACE, pace=pace))

    def opened(self, secure_messaging: SecureMessaging, id_picc: bytes, ca: CAChip | None) -> Session:
        """BAC or PACE succeeded: secure messaging from the next command on."""
        return self._to(Session(State.SECURED, secure_messaging=secure_messaging, ca=ca, id_picc=id_picc))

    def ca_agreed(self, next_secure_messaging: SecureMessaging) -> Session:
        """Chip Authentication agreed new keys, to switch to once its answer has gone out under the old ones."""
        return self._to(Session(State.CA_PENDING, secure_messaging=self.secure_messaging, ca=self.ca, ta=self.ta,
                                next_secure_messaging=next_secure_messaging, id_picc=self.id_picc))

    def switched(self, ta: TAChip | None) -> Session:
        """After the answer of ``CA_PENDING``: Chip Authentication's keys, with ``ta`` on a chip trusting a CVCA."""
        keys = held(self.next_secure_messaging)
        if ta is None:
            return self._to(Session(State.SECURED, secure_messaging=keys, ca=self.ca, id_picc=self.id_picc))
        return self._to(Session(State.CHIP_AUTHENTICATED, secure_messaging=keys, ca=self.ca, ta=ta,
                                id_picc=self.id_picc))

    def kept(self) -> Session:
        """After an answer of ``CA_PENDING`` that was not 9000: the old keys stay, the agreed ones are dropped."""
        state = State.SECURED if self.ta is None else State.CHIP_AUTHENTICATED
        return self._to(Session(state, secure_messaging=self.secure_messaging, ca=self.ca, ta=self.ta,
                                id_picc=self.id_picc))


__all__ = ["TABLE", "TRANSITIONS", "Action", "Command", "Refuse", "Session", "State", "command_of", "held"]
