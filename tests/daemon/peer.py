"""The streaming PC's side of the two-PC test, run inside the "obs" namespace.

Streams VMC face packets to the daemon's PC, finds its NDI source by that PC's address (no
mDNS across the link), waits until the daemon reports the face tracking (asked over the control
port with the token) and counts the NDI frames that arrive. Prints one JSON line with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import NDIlib as ndi

from rain_vtuber.daemon.control import send_command
from rain_vtuber.daemon.soak import VmcSender
from rain_vtuber.errors import RainError


def _status(args: argparse.Namespace) -> dict:
    try:
        state, text = send_command("/rain/status", host=args.daemon, port=args.control_port, token=args.token, timeout=1.0)
    except RainError:
        return {}
    return json.loads(text) if state == "ok" else {}


def _find(address: str, name: str, timeout: float) -> object:
    create = ndi.FindCreate()
    create.extra_ips = address
    create.show_local_sources = False
    finder = ndi.find_create_v2(create)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ndi.find_wait_for_sources(finder, 250)
        for source in ndi.find_get_current_sources(finder):
            if f"({name})" in source.ndi_name:
                return source
    raise SystemExit(f"NDI source '{name}' not found at {address} within {timeout:g} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--vmc-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ndi-name", required=True)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    assert ndi.initialize()
    vmc = VmcSender(args.vmc_port, host=args.daemon).start()
    source = _find(args.daemon, args.ndi_name, args.timeout)
    recv_create = ndi.RecvCreateV3()
    recv_create.color_format = ndi.RECV_COLOR_FORMAT_BGRX_BGRA
    recv = ndi.recv_create_v3(recv_create)
    ndi.recv_connect(recv, source)
    deadline = time.monotonic() + args.timeout
    while _status(args).get("source", {}).get("state") != "tracking":
        if time.monotonic() > deadline:
            raise SystemExit("the daemon never reported the VMC face as tracking")
        time.sleep(0.25)
    frames, shapes = 0, set()
    end = time.monotonic() + args.seconds
    while (left := end - time.monotonic()) > 0:
        kind, video, _, _ = ndi.recv_capture_v2(recv, int(min(left, 0.2) * 1000) + 1)
        if kind == ndi.FRAME_TYPE_VIDEO:
            frames += 1
            shapes.add(tuple(video.data.shape))
            ndi.recv_free_video_v2(recv, video)
    status = _status(args)
    vmc.stop()
    ndi.recv_destroy(recv)
    print(json.dumps({
        "source": source.ndi_name, "url": source.url_address, "frames": frames, "seconds": args.seconds,
        "shapes": sorted(shapes), "vmc_sent": vmc.sent, "status": status,
    }), flush=True)
    os._exit(0)  # libndi's worker threads can abort a normal interpreter teardown


if __name__ == "__main__":
    main()
