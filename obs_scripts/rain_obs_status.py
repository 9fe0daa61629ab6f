"""The daemon's `/rain/status` as the OBS script uses it, and the one-line summary it shows.

Only the keys the script needs are read (rain_vtuber.daemon writes them); anything missing or of the
wrong type reads as empty, so an older or newer daemon never breaks the script. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from rain_obs_supervisor import ProcState


@dataclass(frozen=True)
class OutputStatus:
    """One of the daemon's outputs (`outputs` in the status): what OBS needs to show it."""

    name: str
    kind: str  # ndi | browser | spout | virtualcam | file
    state: str = ""
    url: str = ""  # browser: the page that shows the avatar on a transparent background
    ndi_name: str = ""  # ndi: the full name receivers list, "HOST (RAIN VTuber)"
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class DaemonStatus:
    """The part of the daemon's status the script shows or acts on (one immutable snapshot)."""

    state: str = "?"
    character: str = ""
    characters: Tuple[str, ...] = ()
    fps: Optional[float] = None
    latency_ms: Optional[float] = None
    source_state: str = ""
    error: str = ""
    expressions: Tuple[str, ...] = ()  # available for the current character: built-ins + its extras
    active_expressions: Tuple[str, ...] = ()
    face_driver: str = ""  # what drives the face now: tracking, idle, ...
    outputs: Tuple[OutputStatus, ...] = ()

    def output(self, kind: str) -> Optional[OutputStatus]:
        """The first output of that kind, None when the daemon runs none."""
        return next((out for out in self.outputs if out.kind == kind), None)


def _number(value: object) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dict(value: object) -> Dict[str, object]:
    return value if isinstance(value, dict) else {}


def _names(value: object) -> Tuple[str, ...]:
    return tuple(str(name) for name in value) if isinstance(value, (list, dict)) else ()


def _output(name: str, data: Dict[str, object]) -> OutputStatus:
    kind = str(data.get("kind") or name)
    return OutputStatus(
        name=name,
        kind=kind,
        state=str(data.get("state") or ""),
        url=str(data.get("url") or ""),
        ndi_name=str(data.get("name") or "") if kind == "ndi" else "",
        width=int(_number(data.get("width")) or 0),
        height=int(_number(data.get("height")) or 0),
    )


def _outputs(data: Dict[str, object]) -> Tuple[OutputStatus, ...]:
    """`outputs` (name -> status); a daemon from before it had outputs reports only `ndi`."""
    outputs = _dict(data.get("outputs"))
    if not outputs and _dict(data.get("ndi")).get("name"):
        outputs = {"ndi": dict(_dict(data["ndi"]), kind="ndi")}
    return tuple(_output(str(name), _dict(value)) for name, value in outputs.items())


def parse_status(text: str) -> Optional[DaemonStatus]:
    """Status JSON (keys as rain_vtuber.daemon.daemon.Daemon.status writes them) -> DaemonStatus.

    None when the text is not a JSON object.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    expressions = _dict(data.get("expressions"))
    return DaemonStatus(
        state=str(data.get("state") or "?"),
        character=str(data.get("character") or ""),
        characters=_names(_dict(data.get("characters"))),
        fps=_number(data.get("output_fps")),
        latency_ms=_number(data.get("latency_ms_p50")),
        source_state=str(_dict(data.get("source")).get("state") or ""),
        error=str(data.get("error") or ""),
        expressions=_names(expressions.get("available")),
        active_expressions=_names(expressions.get("active")),
        face_driver=str(data.get("face_driver") or ""),
        outputs=_outputs(data),
    )


def _describe_output(output: OutputStatus) -> str:
    text = f"NDI '{output.ndi_name}'" if output.kind == "ndi" else f"browser {output.url}"
    return text if output.state in ("", "running") else f"{text} ({output.state})"


def _status_parts(status: DaemonStatus) -> Tuple[str, ...]:
    parts = [status.state]
    if status.character:
        parts.append(status.character)
    if status.fps is not None:
        parts.append(f"{status.fps:.1f} fps")
    if status.latency_ms is not None:
        parts.append(f"{status.latency_ms:.0f} ms")
    if status.source_state:
        parts.append(f"face {status.source_state}")
    if status.face_driver:
        parts.append(f"driver {status.face_driver}")
    if status.active_expressions:
        parts.append("expressions " + ", ".join(status.active_expressions))
    shown = [out for out in status.outputs if (out.kind == "ndi" and out.ndi_name) or (out.kind == "browser" and out.url)]
    return (*parts, *(_describe_output(out) for out in shown))


def format_status(proc_state: str, status: Optional[DaemonStatus], error: str = "") -> str:
    """One status line: process state, then what the daemon says, then the last error."""
    parts = [proc_state]
    if status is not None:
        parts += _status_parts(status)
        error = error or status.error
    elif proc_state == ProcState.RUNNING:
        parts.append("waiting for the daemon")
    line = " | ".join(parts)
    return f"{line} | {error}" if error else line
