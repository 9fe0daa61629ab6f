"""Pack what the device check's fidelity step replays of ../shared/golden/tiny (42 MiB of its 54)
into the git-ignored .golden/tiny.tar.gz (37 MiB), to carry to a GPU machine beside the wheels of
collect-device-wheels.sh (19 MiB) and the checkout (1.3 MiB) within the 64 MiB a call may carry.

    python scripts/collect-device-golden.py [ARCHIVE]      (default .golden/tiny.tar.gz)
    # there: tar xzf .golden/tiny.tar.gz -C /tmp && rain-vtuber device-check --golden /tmp/tiny ...
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from pathlib import Path

from rain_vtuber.devicecheck.context import default_golden
from rain_vtuber.engine.golden_replay import GoldenSet, write_replay_set

if __name__ == "__main__":
    archive = Path(sys.argv[1] if len(sys.argv) > 1 else ".golden/tiny.tar.gz")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_replay_set(GoldenSet(default_golden()), Path(tmp) / "tiny")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(Path(tmp) / "tiny", arcname="tiny")
    print(f"{archive}: {archive.stat().st_size / 2**20:.1f} MiB")
