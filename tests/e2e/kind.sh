#!/usr/bin/env bash
# The kind cluster and images for the end-to-end test (tests/e2e/test_kind_e2e.py drives it).
#
#   tests/e2e/kind.sh images            # print role=image for every image the test uses
#   tests/e2e/kind.sh up KUBECONFIG     # create the cluster, build and load the images, write its kubeconfig
#   tests/e2e/kind.sh down              # delete the cluster
#
# Needs a running Docker engine and kind. MODELROLLOUT_E2E_CLUSTER names the cluster
# (default modelrollout-e2e); MODELROLLOUT_E2E_TAG tags the operator images (default e2e).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${MODELROLLOUT_E2E_CLUSTER:-modelrollout-e2e}"
TAG="${MODELROLLOUT_E2E_TAG:-e2e}"
PREFIX="modelrollout-e2e"

# role image dockerfile build-args...
IMAGES=(
  "controller ${PREFIX}/controller:${TAG} Dockerfile"
  "router ${PREFIX}/router:${TAG} router/Dockerfile"
  "model-v1 ${PREFIX}/demo-model:v1 examples/model-server/Dockerfile VARIANT=stable SCENARIO=good"
  "model-v2 ${PREFIX}/demo-model:v2 examples/model-server/Dockerfile VARIANT=candidate SCENARIO=good"
  "model-v2-bad ${PREFIX}/demo-model:v2-bad examples/model-server/Dockerfile VARIANT=candidate SCENARIO=errors"
)

die() {
  echo "kind.sh: $*" >&2
  exit 1
}

require_tools() {
  command -v docker >/dev/null || die "docker is not installed; the end-to-end test needs a Docker engine"
  docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); start one first"
  command -v kind >/dev/null || die "kind is not installed; see https://kind.sigs.k8s.io"
}

print_images() {
  local entry role image
  for entry in "${IMAGES[@]}"; do
    read -r role image _ <<<"${entry}"
    echo "${role}=${image}"
  done
}

build_images() {
  local entry role image dockerfile args arg
  for entry in "${IMAGES[@]}"; do
    read -r role image dockerfile args <<<"${entry}"
    local build_args=()
    for arg in ${args:-}; do
      build_args+=(--build-arg "${arg}")
    done
    echo "building ${role}: ${image}"
    # The guarded expansion keeps bash 3.2 (macOS) happy with an empty array under `set -u`.
    docker build --quiet --file "${ROOT}/${dockerfile}" --tag "${image}" ${build_args[@]+"${build_args[@]}"} "${ROOT}"
  done
}

load_images() {
  local entry image
  for entry in "${IMAGES[@]}"; do
    read -r _ image _ <<<"${entry}"
    kind load docker-image --name "${CLUSTER}" "${image}"
  done
}

cluster_up() {
  if kind get clusters | grep -qx "${CLUSTER}"; then
    echo "kind cluster ${CLUSTER} exists; reusing it"
  else
    kind create cluster --name "${CLUSTER}" --wait 180s --kubeconfig "$1"
  fi
  kind get kubeconfig --name "${CLUSTER}" >"$1"
}

main() {
  case "${1:-}" in
    images)
      print_images
      ;;
    up)
      [[ $# -eq 2 ]] || die "usage: kind.sh up KUBECONFIG_PATH"
      require_tools
      cluster_up "$2"
      build_images
      load_images
      ;;
    down)
      command -v kind >/dev/null || die "kind is not installed"
      kind delete cluster --name "${CLUSTER}"
      ;;
    *)
      die "usage: kind.sh images | up KUBECONFIG_PATH | down"
      ;;
  esac
}

main "$@"
