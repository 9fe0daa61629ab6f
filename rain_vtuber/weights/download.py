"""Fetch the RAIN release into a weights folder: resumable, idempotent, verified, fast to fail offline.

Hub files go through huggingface_hub (its progress bars, resume, tokens and HF_ENDPOINT
mirrors); plain URLs (taesdv.pth on GitHub) stream into a `.part` file resumed with an HTTP
Range request. A file counts as present once it sits at its final path; a component is
verified once (the check is recorded by size and mtime in `.rain-verified.json`), so a second
run does no network and no loading.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from rain_vtuber.errors import RainError
from rain_vtuber.paths import cache_home
from rain_vtuber.weights.sources import RELEASE, Component, RemoteFile, hf_endpoint

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0  # connecting to a host; offline machines must fail within seconds
READ_TIMEOUT_S = 30.0
CHUNK = 1 << 20
STAGING = ".download"  # hub downloads land here (with their resume state), then move into place
RECORD = ".rain-verified.json"
PACKAGED = Path(__file__).resolve().parents[1] / "model"
Verifier = Callable[[Component, list[Path]], None]


def default_weights_dir() -> Path:
    """$RAIN_VTUBER_HOME/weights, else the per-user cache (~/.cache/rain-vtuber/weights on Linux)."""
    return cache_home() / "weights"


def local_path(folder: Path, component: Component, remote: RemoteFile) -> Path | None:
    """Where the file already is in the weights folder (any accepted name), or None."""
    for name in remote.names:
        path = folder / component.folder / name
        if path.is_file():
            return path
    return None


def download_release(
    folder: Path | None = None,
    components: Sequence[Component] = RELEASE,
    verify: Verifier | None = None,
) -> Path:
    """Make `folder` a complete, verified release folder with its config.yaml; returns the folder."""
    folder = Path(folder) if folder is not None else default_weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(c, f) for c in components for f in c.files if local_path(folder, c, f) is None]
    if todo:
        _check_reachable(folder, todo)
        failures = []
        for component, remote in todo:
            try:
                _fetch(folder, component, remote)
            except Exception as err:  # network stacks raise many types; each one is reported below
                log.debug("download of %s failed", remote.names[0], exc_info=True)
                failures.append(f"{_describe(component, remote)}: {err}")
        if failures:
            raise RainError(
                "could not download:\n" + "\n".join(failures)
                + "\nrun `rain-vtuber weights download` again to resume"
            )
        shutil.rmtree(folder / STAGING, ignore_errors=True)
    _verify_all(folder, components, verify)
    write_release_config(folder)
    return folder


def write_release_config(folder: Path) -> None:
    """Put the packaged release config (paths relative to the folder) and unet.json in the folder, once."""
    import yaml

    config, unet = folder / "config.yaml", folder / "unet.json"
    if not unet.exists():
        shutil.copyfile(PACKAGED / "release_unet.json", unet)
    if config.exists():
        return
    raw = yaml.safe_load((PACKAGED / "release_config.yaml").read_text())
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("./weights/"):
            raw[key] = "./" + value.removeprefix("./weights/")
    raw["unet_config_path"] = "./unet.json"
    header = "# RAIN release config written by `rain-vtuber weights download`; paths are relative to this folder.\n"
    config.write_text(header + yaml.safe_dump(raw, sort_keys=False))


def _describe(component: Component, remote: RemoteFile) -> str:
    others = f" (or {', '.join(remote.names[1:])})" if len(remote.names) > 1 else ""
    return f"  {component.folder or '.'}/{remote.names[0]}{others} <- {remote.source_url()}"


def _missing_listing(folder: Path, todo: Sequence[tuple[Component, RemoteFile]]) -> str:
    return f"missing from {folder}:\n" + "\n".join(_describe(c, f) for c, f in todo)


def _check_reachable(folder: Path, todo: Sequence[tuple[Component, RemoteFile]]) -> None:
    """Fail within seconds, listing every missing file and its source, when a host cannot be reached."""
    fix = (
        "\nconnect to the internet and run `rain-vtuber weights download` again, or fetch these files"
        " yourself into that folder (or any folder passed with --weights)"
    )
    if any(f.repo_id for _, f in todo) and _hf_offline():
        raise RainError("HF_HUB_OFFLINE is set, so nothing can be downloaded; " + _missing_listing(folder, todo) + fix)
    proxies = urllib.request.getproxies()
    hosts = {}
    for _, remote in todo:
        url = urllib.parse.urlsplit(proxies.get("https") or remote.source_url())
        hosts[(url.hostname, url.port or (443 if url.scheme == "https" else 80))] = None
    for host, port in hosts:
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
        except OSError as err:
            raise RainError(f"cannot reach {host}:{port} ({err}); " + _missing_listing(folder, todo) + fix) from err


def _hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _fetch(folder: Path, component: Component, remote: RemoteFile) -> None:
    dest_dir = folder / component.folder
    dest_dir.mkdir(parents=True, exist_ok=True)
    if remote.url is not None:
        fetch_url(remote.url, dest_dir / remote.names[0])
        return
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    staging = folder / STAGING / remote.repo_id.replace("/", "--")
    for name in remote.names:
        try:
            path = hf_hub_download(
                remote.repo_id,
                remote.repo_path(name),
                local_dir=staging,
                endpoint=hf_endpoint(),
                etag_timeout=PROBE_TIMEOUT_S * 2,
            )
        except EntryNotFoundError:
            log.info("%s has no %s; trying the next name", remote.repo_id, remote.repo_path(name))
            continue
        os.replace(path, dest_dir / name)
        return
    raise FileNotFoundError(f"none of {list(remote.names)} exists in {remote.repo_id}/{remote.repo_dir}")


def fetch_url(url: str, dest: Path) -> None:
    """Stream `url` to `dest` through `dest.part`, resuming a partial .part with an HTTP Range request."""
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=READ_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # asked for bytes past the end: the .part is already whole
            os.replace(part, dest)
            return
        raise
    with response:
        if start and response.status != 206:
            start = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name
        ) as bar:
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
            except http.client.IncompleteRead as err:
                raise OSError(f"connection dropped after {out.tell()} bytes") from err
    size = part.stat().st_size
    if total is not None and size != total:
        raise OSError(f"got {size} of {total} bytes")
    os.replace(part, dest)


def _verify_all(folder: Path, components: Sequence[Component], verify: Verifier | None) -> None:
    if verify is None:
        from rain_vtuber.weights.verify import verify_component as verify
    record_path = folder / RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    for component in components:
        paths = [local_path(folder, component, f) for f in component.files]
        stamp = [[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
        if record.get(component.name) == stamp:
            continue
        verify(component, paths)
        record[component.name] = stamp
        record_path.write_text(json.dumps(record, indent=1))
