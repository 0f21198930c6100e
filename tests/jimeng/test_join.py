"""Joining videos end to end with PyAV: copied when the parts match, encoded again (and
letterboxed, with silence for silent parts) when they do not. Real MP4 files throughout."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from generations.jimeng.join import join
from generations.jimeng.probe import NotAVideo, probe
from sandbox.render import render


def _video(path: Path, *, width=320, height=180, frames=24, sound=True, prompt="p") -> Path:
    render(path, width=width, height=height, frames=frames, prompt=prompt, images=[], audio=sound)
    return path


def _packets(path: Path) -> dict[str, list[bytes]]:
    """Every packet's bytes, per kind of stream."""
    found: dict[str, list[bytes]] = {"video": [], "audio": []}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                found[packet.stream.type].append(bytes(packet))
    return found


def _decode_all(path: Path) -> tuple[list[float], float]:
    """The time of every picture (decoding all of them), and the sound's length."""
    times, sound = [], 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
        if container.streams.audio:
            container.seek(0)
            sound = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
    return times, sound


def test_matching_parts_are_copied_packet_for_packet(tmp_path: Path) -> None:
    a = _video(tmp_path / "a.mp4", frames=48, prompt="first")
    b = _video(tmp_path / "b.mp4", frames=24, prompt="second")
    joined = join([a, b, a], tmp_path / "joined.mp4")

    assert not joined.reencoded and joined.why == ""
    assert (joined.parts, joined.width, joined.height, joined.has_sound) == (3, 320, 180, True)
    assert joined.duration_seconds == pytest.approx(5.0)
    parts = [_packets(a), _packets(b), _packets(a)]
    result = _packets(tmp_path / "joined.mp4")
    # Not one byte of the pictures or the sound was encoded again.
    assert result["video"] == [p for part in parts for p in part["video"]]
    assert result["audio"] == [p for part in parts for p in part["audio"]]
    info = probe(tmp_path / "joined.mp4")
    assert (info.frames, info.duration_seconds, info.audio_codec) == (120, 5.0, "aac")
    times, _sound = _decode_all(tmp_path / "joined.mp4")
    assert len(times) == 120 and times == sorted(times) and len(set(times)) == 120


def _reordered(path: Path, frames: int, colour: tuple[int, int, int]) -> Path:
    """H.264 with B-frames (x264's default preset): decoding order differs from display
    order, and the first packet's decoding time is before zero."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for index in range(frames):
            shade = tuple(min(255, c + index * 3) for c in colour)
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 96), shade))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_parts_with_reordered_frames_join_with_increasing_times(tmp_path: Path) -> None:
    a = _reordered(tmp_path / "a.mp4", 30, (200, 40, 40))
    b = _reordered(tmp_path / "b.mp4", 30, (200, 40, 40))
    with av.open(str(a)) as container:
        dts = [p.dts for p in container.demux(video=0) if p.size]
        assert dts[0] < 0 or dts != sorted(p for p in dts)  # really reordered

    joined = join([a, b], tmp_path / "joined.mp4")

    assert not joined.reencoded
    times, _sound = _decode_all(tmp_path / "joined.mp4")
    assert len(times) == 60
    assert times == sorted(times) and len(set(times)) == 60
    assert times[30] == pytest.approx(1.25, abs=0.05)  # the second part starts where 1 ended


def test_parts_that_differ_are_encoded_again_letterboxed_with_silence(tmp_path: Path) -> None:
    wide = _video(tmp_path / "wide.mp4", width=320, height=180, frames=48, sound=True)
    tall = _video(tmp_path / "tall.mp4", width=180, height=320, frames=24, sound=False)

    joined = join([wide, tall, wide], tmp_path / "joined.mp4")

    assert joined.reencoded
    assert (
        joined.why
        == "part 1 is h264 320×180 yuv420p, aac sound, part 2 is h264 180×320 yuv420p, silent"
    )
    assert (joined.width, joined.height, joined.has_sound) == (320, 180, True)
    assert joined.duration_seconds == pytest.approx(5.0)
    info = probe(tmp_path / "joined.mp4")
    assert (info.width, info.height, info.codec, info.audio_codec) == (320, 180, "h264", "aac")
    times, sound = _decode_all(tmp_path / "joined.mp4")
    assert len(times) == 120 and times == sorted(times)
    # Sound for the whole film (the tall part's stretch is silence), not just the parts'.
    assert sound == pytest.approx(5.0, abs=0.1)
    with av.open(str(tmp_path / "joined.mp4")) as container:
        container.seek(int(2.5 * av.time_base))  # inside the tall part
        picture = next(f for f in container.decode(video=0) if f.time >= 2.4).to_image()
    # Letterboxed: black bars left and right, the picture (never black here) in between.
    assert max(picture.getpixel((5, 90))) < 20 and max(picture.getpixel((314, 90))) < 20
    assert max(picture.getpixel((160, 90))) > 40


def test_parts_at_another_frame_rate_keep_their_length(tmp_path: Path) -> None:
    a = _video(tmp_path / "a.mp4", frames=24)  # 1 s at 24 fps
    with av.open(str(tmp_path / "b.mp4"), "w") as container:  # 1 s at 30 fps, 320×180
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for _ in range(30):
            for packet in stream.encode(av.VideoFrame.from_image(Image.new("RGB", (320, 180)))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

    joined = join([a, tmp_path / "b.mp4"], tmp_path / "joined.mp4")

    assert joined.reencoded and "part 2" in joined.why
    assert joined.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert probe(tmp_path / "joined.mp4").fps == pytest.approx(24.0)


def test_a_part_that_is_not_a_video_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    a = _video(tmp_path / "a.mp4")
    (tmp_path / "note.mp4").write_bytes(b"not a video at all")
    with pytest.raises(NotAVideo):
        join([a, tmp_path / "note.mp4"], tmp_path / "joined.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "note.mp4"]
    with pytest.raises(ValueError, match="nothing"):
        join([], tmp_path / "joined.mp4")
