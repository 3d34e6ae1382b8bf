"""Opening the bench's CAN interface: every way it can be missing or wrong is named, with the fix."""

import json

import pytest

from rig.can.bus import CanError, check_socketcan, kernel_status


def ip_json(up=True, bitrate=100000, state="ERROR-ACTIVE"):
    return lambda name: json.dumps([{"ifname": name, "flags": ["NOARP", "UP"] if up else ["NOARP"],
                                     "linkinfo": {"info_kind": "can", "info_data": {
                                         "state": state, "restart_ms": 100, "berr_counter": {"tx": 3, "rx": 0},
                                         "bittiming": {"bitrate": bitrate}}},
                                     "stats64": {"tx": {"packets": 12}, "rx": {"packets": 40}}}])


@pytest.fixture
def sysfs(tmp_path):
    (tmp_path / "class" / "net" / "can0").mkdir(parents=True)
    return str(tmp_path)


def test_the_kernels_view_of_can0(sysfs):
    status = kernel_status("can0", ip=ip_json())
    assert status == {"up": True, "state": "error-active", "bitrate": 100000, "restart_ms": 100,
                      "tx_errors": 3, "rx_errors": 0, "sent": 12, "seen": 40}


def test_no_interface_names_the_overlay(sysfs):
    with pytest.raises(CanError, match=r"there is no CAN interface can1: is the HAT fitted.*dtoverlay=mcp2515-can0"):
        check_socketcan("can1", 100000, sys_root=sysfs, ip=ip_json())


def test_a_down_interface_says_how_to_bring_it_up(sysfs):
    with pytest.raises(CanError, match=r"can0 is down: sudo ip link set can0 up type can bitrate 95238 restart-ms 100"):
        check_socketcan("can0", 95238, sys_root=sysfs, ip=ip_json(up=False))


def test_an_interface_at_another_speed_is_refused(sysfs):
    with pytest.raises(CanError, match=r"can0 runs at 100000 bit/s, the pin map says 125000"):
        check_socketcan("can0", 125000, sys_root=sysfs, ip=ip_json())
    assert check_socketcan("can0", 100000, sys_root=sysfs, ip=ip_json())["state"] == "error-active"


def test_an_interface_rig_cannot_vouch_for_is_refused():
    from rig.can.bus import open_bus

    with pytest.raises(CanError, match="rig drives socketcan, virtual, udp_multicast only"):
        open_bus("pcan", "PCAN_USBBUS1")
