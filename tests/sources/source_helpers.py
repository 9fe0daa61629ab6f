"""Helpers shared by the source tests: paced UDP sending, and reading points and pose images."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable, TypeVar

import cv2
import numpy as np

from rain_vtuber.face.state import FaceState
from rain_vtuber.sources.base import FaceSource
from tests.waiting import wait_until

T = TypeVar("T")


def write_face_video(path: Path, face: np.ndarray, frames: int = 8) -> Path:
    """`frames` frames (mp4v, 25 fps) of the RGB `face` sliding sideways 2 px a frame."""
    height, width = face.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    assert writer.isOpened()
    bgr = cv2.cvtColor(face, cv2.COLOR_RGB2BGR)
    for index in range(frames):
        writer.write(np.roll(bgr, 2 * index, axis=1))
    writer.release()
    return path


def send_until(send: Callable[[], object], predicate: Callable[[], T], timeout: float = 5.0) -> T:
    """UDP may drop: resend every 50 ms until `predicate` holds (its value); AssertionError after `timeout`."""
    return wait_until(predicate, timeout, poll_s=0.05, tick=send)


def blast(sock: socket.socket, packets: list[bytes], port: int, source: FaceSource) -> None:
    """Send many datagrams in small batches, letting the receiver drain so the kernel buffer rarely overflows."""
    offset = source.counters.received
    for index, packet in enumerate(packets, start=1):
        sock.sendto(packet, ("127.0.0.1", port))
        target = offset + index
        if index % 20 == 0:
            try:
                wait_until(lambda: source.counters.received >= target, 0.5, 0.001)  # noqa: B023
            except AssertionError:  # some were dropped: resynchronise instead of waiting each time
                offset = source.counters.received - index


# -- reading the rendered 26-dot image and the 68 points ------------------------------------------

EYE_RIGHT, EYE_LEFT, INNER_LIP, NOSE = (255, 128, 128), (128, 128, 255), (0, 0, 255), (255, 0, 255)


def dot_pixels(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """(N, 2) x, y of the pixels painted in `colour`."""
    ys, xs = np.nonzero(np.all(image == np.array(colour, dtype=np.uint8), axis=-1))
    return np.stack([xs, ys], axis=1)


def vertical_span(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    pixels = dot_pixels(image, colour)
    assert len(pixels), f"no dots of colour {colour} in the image"
    return int(pixels[:, 1].max() - pixels[:, 1].min())


def centre_x(image: np.ndarray, colour: tuple[int, int, int]) -> float:
    pixels = dot_pixels(image, colour)
    assert len(pixels), f"no dots of colour {colour} in the image"
    return float(pixels[:, 0].mean())


def lid_gap(points: np.ndarray, eye: str) -> float:
    """Mean upper-to-lower lid distance of one iBUG eye ring (right: 36-41, left: 42-47)."""
    a = 36 if eye == "right" else 42
    return float((np.linalg.norm(points[a + 1] - points[a + 5]) + np.linalg.norm(points[a + 2] - points[a + 4])) / 2)


def inner_lip_gap(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[62] - points[66]))


def assert_anatomical(points: np.ndarray) -> None:
    """Brows above eyes above nose tip above mouth above chin; face's right side on the image's left."""
    y = points[:, 1]
    brows, eyes = y[17:27].mean(), y[36:48].mean()
    assert brows < eyes < y[30] < y[51] < y[57] < y[8]
    assert y[33] < y[62]  # nostril base above the inner lip
    for right, left in ((36, 45), (39, 42), (48, 54), (17, 26), (0, 16), (31, 35)):
        assert points[right, 0] < points[left, 0]
    assert points[0, 0] < points[27, 0] < points[16, 0]
    assert points[36:42, 0].max() < points[42:48, 0].min()  # the eyes do not overlap


def check_blink(neutral: FaceState, blinked: FaceState, image_neutral: np.ndarray, image_blinked: np.ndarray) -> None:
    """Both eyes closed: lid points meet, and the eye dots of the pose image collapse to one row."""
    for eye in ("right", "left"):
        assert lid_gap(neutral.points, eye) > 0.02
        assert lid_gap(blinked.points, eye) < 0.1 * lid_gap(neutral.points, eye)
    for colour in (EYE_RIGHT, EYE_LEFT):
        assert vertical_span(image_blinked, colour) < 0.5 * vertical_span(image_neutral, colour)


def check_jaw_open(neutral: FaceState, opened: FaceState, image_neutral: np.ndarray, image_opened: np.ndarray) -> None:
    """Inner lips part in the points and the inner-lip dots separate in the pose image."""
    assert inner_lip_gap(neutral.points) < 0.005
    assert inner_lip_gap(opened.points) > 0.05
    assert vertical_span(image_opened, INNER_LIP) > vertical_span(image_neutral, INNER_LIP) + 20


def check_nose_moves(neutral: FaceState, turned: FaceState, image_neutral: np.ndarray, image_turned: np.ndarray,
                     direction: int) -> None:
    """The nose tip and the nose dot move sideways, towards `direction` (-1 image left, +1 right)."""
    assert direction * (turned.points[30, 0] - neutral.points[30, 0]) > 0.05
    assert direction * (centre_x(image_turned, NOSE) - centre_x(image_neutral, NOSE)) > 20
