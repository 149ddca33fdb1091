"""Benchmark: what checking a downloaded take costs (`studio.media.verify`), against decoding
every frame, on a 15 s 1080p take with sound as the simulator renders it (361 frames).

`verify` counts the packets without decoding (a file cut short shows there) and decodes only from
the last keyframe on. It prints the medians and `verify / full_decode`; a truncated copy (40 % of
the bytes) is refused before anything is decoded.

    .venv/bin/python bench/verify.py [--runs 5]

The last line holds key=value pairs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import av

from studio import media
from studio.errors import MediaError


def full_decode(path: Path) -> int:
    "Decode every video frame (the alternative verify avoids)."
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as folder:
        take = Path(folder) / "take.mp4"
        media.render_clip(take, width=1920, height=1080, seconds=15, audio=True, text="A paper boat on a rainy street")
        cut = Path(folder) / "cut.mp4"
        cut.write_bytes(take.read_bytes()[: int(take.stat().st_size * 0.4)])
        sizes = media.take_sizes("1080p", "16:9")
        verify_s = timed(lambda: media.verify(take, sizes=sizes, seconds=15), args.runs)
        decode_s = timed(lambda: full_decode(take), args.runs)

        def refuse() -> None:
            try:
                media.verify(cut)
            except MediaError:
                return
            raise AssertionError("a cut take passed")

        cut_s = timed(refuse, args.runs)
    print(f"verify 1080p 15 s: {verify_s:.3f} s; full decode: {decode_s:.3f} s; cut copy refused in {cut_s:.3f} s")
    print(f"verify_s={verify_s:.3f} full_decode_s={decode_s:.3f} cut_s={cut_s:.3f} ratio={verify_s / decode_s:.2f}")


if __name__ == "__main__":
    main()
