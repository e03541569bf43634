#!/usr/bin/env bash
# Makes the real-media player's clip (issue 25): one hour of a moving test picture with a tone,
# VP8 + Opus in WebM, low bitrate, a keyframe every 2 s (48 frames at 24 fps). Made once per
# machine into ~/.cache/watchparty/clip-3600.webm (E2E_CLIP overrides; ~30 MB, not committed)
# and reused while it exists. Two minutes are encoded and the hour is those two minutes
# repeated by ffmpeg's concat demuxer without re-encoding (a whole hour encodes in ~6 CPU
# minutes; this in ~20 s); the timestamps run on, so it is one continuous hour.
#
#   end2end/media/make-clip.sh            prints the clip's path
#
# The stand-in's real-media mode (iframe_api.js `media`) plays it in a <video> element, served
# with HTTP byte ranges by ./server.js, so seeks land on keyframes and decode forward as on a
# media server.
set -euo pipefail
OUT=${E2E_CLIP:-${XDG_CACHE_HOME:-$HOME/.cache}/watchparty/clip-3600.webm}
if [ -s "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
command -v ffmpeg >/dev/null || { echo "make-clip.sh: ffmpeg is missing (scripts/setup.sh test installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ffmpeg -loglevel error -y \
  -f lavfi -i "testsrc2=size=192x108:rate=24" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 120 \
  -c:v libvpx -b:v 40k -g 48 -keyint_min 48 -deadline good -cpu-used 5 -threads 2 \
  -c:a libopus -b:a 16k -ac 1 \
  "$WORK/part.webm"
for _ in $(seq 30); do echo "file '$WORK/part.webm'"; done > "$WORK/list.txt"
ffmpeg -loglevel error -y -f concat -safe 0 -i "$WORK/list.txt" -c copy "$WORK/clip.webm"
mv "$WORK/clip.webm" "$OUT"
echo "$OUT"
