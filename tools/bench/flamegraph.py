"""Flame graphs from py-spy's collapsed stacks (`py-spy record --format raw`): an SVG and the shares.

py-spy writes one line per distinct stack, root first: `frame;frame;...;frame COUNT`. The SVG is
a static flame graph (root at the bottom, width = share of samples, hover for the frame); `shares`
tells how many samples had a frame of each named part of the code on their stack. Samples of
threads that only wait are set aside (IDLE_LEAVES). A leaf `Runner.run` is the event loop's own
native code (uvloop, gRPC's C core, TLS): Python frames do not show inside it.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_WIDTH = 1200
_ROW = 16
_MIN_PX = 0.3


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict[str, Node] = field(default_factory=dict)


# leaves of threads that wait (a pool's idle workers, the span exporter's timer): py-spy counts a
# waiting thread as active when the machine is busy, so these samples are set aside
IDLE_LEAVES = (
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "Queue.get (queue.py",
    "_worker (concurrent/futures/thread.py:81)",
    "Thread.run (threading.py:982)",
    "WorkerThread.run (anyio",
)


def read_collapsed(text: str, *, active_only: bool = True) -> list[tuple[list[str], int]]:
    """(frames root first, samples) of every line of a collapsed-stack file (waiting threads set aside)."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            if active_only and frames[-1].startswith(IDLE_LEAVES):
                continue
            stacks.append((frames, int(count)))
    return stacks


def shares(stacks: Iterable[tuple[list[str], int]], parts: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """For each part (name -> substrings of a frame, or `leaf:<prefix>` of the innermost frame), the share
    of samples with such a frame on the stack."""
    total = 0
    hits = dict.fromkeys(parts, 0)
    for frames, count in stacks:
        total += count
        for part, needles in parts.items():
            if any(
                frames[-1].startswith(needle[5:]) if needle.startswith("leaf:") else needle in frame
                for frame in frames
                for needle in needles
            ):
                hits[part] += count
    return {part: round(n / total, 3) if total else 0.0 for part, n in hits.items()}


def _tree(stacks: Iterable[tuple[list[str], int]]) -> Node:
    root = Node("all")
    for frames, count in stacks:
        root.count += count
        node = root
        for frame in frames:
            node = node.children.setdefault(frame, Node(frame))
            node.count += count
    return root


def _colour(name: str) -> str:
    h = zlib.crc32(name.encode())
    return f"rgb({205 + h % 50},{(h >> 8) % 180 + 40},{(h >> 16) % 55})"


def render_svg(stacks: list[tuple[list[str], int]], *, title: str) -> str:
    """A flame graph of the stacks as a standalone SVG."""
    root = _tree(stacks)
    rects: list[str] = []
    depth_max = 0

    def walk(node: Node, x: float, depth: int) -> None:
        nonlocal depth_max
        width = node.count / max(root.count, 1) * _WIDTH
        if width < _MIN_PX:
            return
        depth_max = max(depth_max, depth)
        label = html.escape(node.name)
        pct = node.count / max(root.count, 1) * 100
        chars = int(width / 7)
        text = label[:chars] if chars >= 3 else ""
        rects.append(
            f"<g><title>{label} ({node.count} samples, {pct:.2f}%)</title>"
            f'<rect x="{x:.2f}" y="{{y{depth}}}" width="{width:.2f}" height="{_ROW - 1}" '
            f'fill="{_colour(node.name)}"/>'
            f'<text x="{x + 2:.2f}" y="{{t{depth}}}">{text}</text></g>'
        )
        child_x = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            walk(child, child_x, depth + 1)
            child_x += child.count / max(root.count, 1) * _WIDTH

    walk(root, 0.0, 0)
    height = (depth_max + 1) * _ROW + 40
    body = "\n".join(rects)
    for depth in range(depth_max + 1):
        y = height - (depth + 1) * _ROW - 4
        body = body.replace(f"{{y{depth}}}", str(y)).replace(f"{{t{depth}}}", str(y + _ROW - 4))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">\n'
        f'<text x="4" y="16" font-size="14">{html.escape(title)} — {root.count} samples</text>\n'
        f"{body}\n</svg>\n"
    )


def write_svg(collapsed: Path, svg: Path, *, title: str) -> list[tuple[list[str], int]]:
    """Render `collapsed` to `svg`; returns the stacks read."""
    stacks = read_collapsed(collapsed.read_text())
    svg.write_text(render_svg(stacks, title=title))
    return stacks
