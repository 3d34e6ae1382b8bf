"""Opening a CAN interface with errors a technician can act on, and the bus's health.

Three interfaces: ``socketcan`` (an MCP2515 HAT on the Pi: ``can0``), and for
simulation and tests python-can's in-process ``virtual`` bus and its cross-process
``udp_multicast``. Their periodic senders all end with the process that started
them (socketcan's are kernel broadcast-manager tasks tied to the process's socket;
the others are threads of the process); an interface whose adapter schedules frames
itself could go on sending after rig dies, so it is refused.

The bus's health comes from error frames (SocketCAN's format, which python-can
passes on as ``is_error_frame`` messages) and, on socketcan, from the kernel
(``ip -details -statistics link show can0``).

>>> s = ErrorState()
>>> s.feed(CRTL, bytes([0, TX_PASSIVE, 0, 0, 0, 0, 128, 0]))
'error-passive'
>>> s.feed(BUSOFF, bytes(8)), s.awake
('bus-off', False)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import RigError

INTERFACES = ("socketcan", "virtual", "udp_multicast")
SETUP = "wiring/README.md section 12"

# linux/can/error.h: error classes in the frame's id, details in its data
TX_TIMEOUT, LOSTARB, CRTL, PROT, TRX, ACK, BUSOFF, BUSERROR, RESTARTED, CNT = (
    0x001, 0x002, 0x004, 0x008, 0x010, 0x020, 0x040, 0x080, 0x100, 0x200)
RX_WARNING, TX_WARNING, RX_PASSIVE, TX_PASSIVE, CRTL_ACTIVE = 0x04, 0x08, 0x10, 0x20, 0x40
STATES = ("error-active", "error-warning", "error-passive", "bus-off")


class CanError(RigError):
    """The CAN interface is missing, down, at another speed, or python-can is not installed.
    A configuration problem: exit code 2, before any pin moves."""

    exit_code = 2


def need_python_can():
    """``import can``, or a CanError saying how to install it (the ``can`` extra)."""
    try:
        import can
    except ImportError:
        raise CanError("CAN needs python-can, which the base install leaves out: pip install 'rig[can]' "
                       "(python-can and can-isotp)") from None
    return can


def open_bus(interface: str, channel: str, bitrate: int | None = None, *, sys_root: str = "/sys",
             ip=None, **kwargs):
    """A python-can bus on ``interface``/``channel``, checked first: a missing or down interface, or
    one at another bitrate than the pin map says, is a CanError naming the fix.

    ``kwargs`` go to python-can (``port`` for udp_multicast, ``preserve_timestamps`` ...).
    """
    if interface not in INTERFACES:
        raise CanError(f"CAN interface {interface!r}: rig drives {', '.join(INTERFACES)} only (socketcan for a "
                       f"HAT; an adapter that schedules frames itself could keep a unit awake after rig dies)")
    can = need_python_can()
    if interface == "socketcan":
        check_socketcan(channel, bitrate, sys_root=sys_root, ip=ip)
    try:
        return can.Bus(interface=interface, channel=channel, **kwargs)
    except (OSError, can.CanError, ValueError, ImportError, RuntimeError) as exc:
        raise CanError(f"cannot open the CAN interface {channel} ({interface}): {exc}. See {SETUP}") from None


def check_socketcan(channel: str, bitrate: int | None, sys_root: str = "/sys", ip=None) -> dict:
    """The kernel's view of ``channel``; a CanError if it is missing, down, or at another bitrate."""
    net = os.path.join(sys_root, "class", "net", channel)
    if not os.path.isdir(net):
        raise CanError(f"there is no CAN interface {channel}: is the HAT fitted, SPI on and its overlay in "
                       f"/boot/firmware/config.txt (dtparam=spi=on, dtoverlay=mcp2515-can0,oscillator=...,"
                       f"interrupt=25), and did the Pi reboot? See {SETUP}")
    status = kernel_status(channel, ip=ip)
    up = _read(os.path.join(net, "operstate")) in ("up", "unknown") if not status else status.get("up", False)
    rate = f" bitrate {bitrate}" if bitrate else " bitrate BITRATE"
    if not up:
        raise CanError(f"{channel} is down: sudo ip link set {channel} up type can{rate} restart-ms 100 "
                       f"(see {SETUP})")
    if bitrate and status.get("bitrate") and abs(status["bitrate"] - bitrate) > 0.005 * bitrate:
        raise CanError(f"{channel} runs at {status['bitrate']} bit/s, the pin map says {bitrate}: "
                       f"sudo ip link set {channel} down && sudo ip link set {channel} up type can{rate} "
                       f"restart-ms 100")
    return status


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def kernel_status(channel: str, ip=None) -> dict:
    """What the kernel says about a socketcan interface (``ip -details -statistics -json``):
    up, state, bitrate, error counters, frames sent and seen, restart-ms. ``{}`` if ``ip`` is missing.

    ``ip`` is a callable returning the command's JSON text (tests pass one).
    """
    if ip is None:
        exe = shutil.which("ip")
        if exe is None:
            return {}

        def ip(name):
            done = subprocess.run([exe, "-details", "-statistics", "-json", "link", "show", name],
                                  capture_output=True, text=True, timeout=5)
            return done.stdout if done.returncode == 0 else ""
    try:
        data = json.loads(ip(channel) or "[]")
    except ValueError:
        return {}
    if not data:
        return {}
    link = data[0]
    info = (link.get("linkinfo") or {}).get("info_data") or {}
    stats = link.get("stats64") or link.get("stats") or {}
    berr = info.get("berr_counter") or {}
    return {
        "up": "UP" in (link.get("flags") or []),
        "state": str(info.get("state", "")).lower() or None,
        "bitrate": (info.get("bittiming") or {}).get("bitrate"),
        "restart_ms": info.get("restart_ms"),
        "tx_errors": berr.get("tx"), "rx_errors": berr.get("rx"),
        "sent": (stats.get("tx") or {}).get("packets"), "seen": (stats.get("rx") or {}).get("packets"),
    }


@dataclass
class ErrorState:
    """The bus's health as error frames tell it: the controller's state, its error counters, and
    how many error frames of each kind came. ``awake`` is False while error-passive or bus-off."""

    state: str = "error-active"
    tx_errors: int = 0
    rx_errors: int = 0
    error_frames: int = 0
    no_ack: int = 0        # frames nobody acknowledged: the unit's CAN unpowered or not wired
    bus_offs: int = 0

    @property
    def awake(self) -> bool:
        return self.state in ("error-active", "error-warning")

    def feed(self, ident: int, data: bytes) -> str | None:
        """Take one error frame; return the new state if it changed."""
        self.error_frames += 1
        old = self.state
        data = bytes(data) + bytes(8 - len(data)) if len(data) < 8 else bytes(data)
        if ident & ACK:
            self.no_ack += 1
        if ident & CNT or ident & CRTL:
            self.tx_errors, self.rx_errors = data[6], data[7]
        if ident & BUSOFF:
            self.state = "bus-off"
        elif ident & RESTARTED:
            self.state = "error-active"
        elif ident & CRTL:
            status = data[1]
            if status & (RX_PASSIVE | TX_PASSIVE):
                self.state = "error-passive"
            elif status & (RX_WARNING | TX_WARNING):
                self.state = "error-warning"
            elif status & CRTL_ACTIVE:
                self.state = "error-active"
        if self.state == "bus-off" and old != "bus-off":
            self.bus_offs += 1
        return self.state if self.state != old else None

    def snapshot(self) -> dict:
        return {"state": self.state, "tx_errors": self.tx_errors, "rx_errors": self.rx_errors,
                "error_frames": self.error_frames, "no_ack": self.no_ack, "bus_offs": self.bus_offs}


def error_frame(kind: str, tx_errors: int = 0, rx_errors: int = 0) -> tuple[int, bytes]:
    """The (id, data) of a SocketCAN error frame saying ``kind`` (for the simulated bus).

    >>> ErrorState().feed(*error_frame("error-passive", 130))
    'error-passive'
    """
    data = bytearray(8)
    data[6], data[7] = tx_errors & 0xFF, rx_errors & 0xFF
    if kind == "bus-off":
        return BUSOFF | CNT, bytes(data)
    if kind == "restarted":
        return RESTARTED | CNT, bytes(data)
    if kind == "no-ack":
        return ACK | CNT, bytes(data)
    data[1] = {"error-warning": TX_WARNING, "error-passive": TX_PASSIVE, "error-active": CRTL_ACTIVE}[kind]
    return CRTL | CNT, bytes(data)
