#!/usr/bin/env bash
# Refresh the third-party browser code vendored under static/vendor/.
#
# Every package comes from the npm registry at the exact version pinned below
# (`npm pack` checks the tarball against the registry's sha512 integrity). Each
# package's folder is wiped and rewritten, so running this twice gives the same
# tree. static/vendor/VERSIONS.txt records package, version, licence and the
# sha256 of every copied file; verify a checkout with:
#
#   cd static/vendor && awk -F'\t' '!/^#/ && NF {print $4 "  " $5}' VERSIONS.txt | sha256sum -c
#
# Files are copied byte for byte. Several keep a trailing `//# sourceMappingURL=`
# comment whose .map we do not ship (see docs/dependencies.md).
#
# Usage: scripts/vendor_static.sh            (needs npm, node, tar, sha256sum)
# To bump a package, change its pin here, run the script, review the diff.
set -euo pipefail

HTMX_VERSION="2.0.11"          # htmx.org, latest 2.x (4.x exists; django-htmx targets 2.x)
PLOTLY_VERSION="4.1.1"  # matches the plotly.js bundled by the Python plotly 7.1 package
POSTHOG_JS_VERSION="1.449.2"   # posthog-js, served to SDKs that lazy-load /static/<name>.js
RRWEB_PLAYER_VERSION="2.1.7"   # rrweb-player, UMD bundle for a plain <script> tag

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/static/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

for tool in npm node tar sha256sum; do
    command -v "$tool" >/dev/null || { echo "vendor_static: '$tool' not found" >&2; exit 1; }
done

# Rows for VERSIONS.txt, appended as packages are copied.
ROWS="$TMP/rows.txt"
HEADERS="$TMP/headers.txt"
: >"$ROWS"
: >"$HEADERS"

# pkg_json <package dir> <field>: print one field of package.json.
pkg_json() {
    node -e 'const p = require(process.argv[1] + "/package.json"); const v = p[process.argv[2]];
             process.stdout.write(typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"
}

# fetch <package> <version>: npm pack into $TMP, extract, print the package dir.
fetch() {
    local pkg="$1" version="$2" work meta file integrity dir
    work="$TMP/pack/$pkg"
    mkdir -p "$work"
    meta="$(cd "$work" && npm pack "$pkg@$version" --json --loglevel=error)"
    file="$(node -e 'const m = JSON.parse(process.argv[1]); process.stdout.write(m[0].filename)' "$meta")"
    integrity="$(node -e 'const m = JSON.parse(process.argv[1]); process.stdout.write(m[0].integrity)' "$meta")"
    mkdir -p "$work/x"
    tar -xzf "$work/$file" -C "$work/x"
    dir="$work/x/package"
    if [[ "$(pkg_json "$dir" version)" != "$version" ]]; then
        echo "vendor_static: $pkg tarball says version $(pkg_json "$dir" version), wanted $version" >&2
        exit 1
    fi
    printf '# %-20s %-10s %-22s npm %s\n' "$pkg" "$version" "$(pkg_json "$dir" license)" "$integrity" >>"$HEADERS"
    echo "$dir"
}

# record <package> <version> <licence> <file under static/vendor>...
record() {
    local pkg="$1" version="$2" licence="$3" rel
    shift 3
    for rel in "$@"; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "$version" "$licence" \
            "$(sha256sum "$VENDOR/$rel" | cut -d' ' -f1)" "$rel" >>"$ROWS"
    done
}

# fresh <folder>: wipe and recreate one package's folder under static/vendor.
fresh() {
    rm -rf "${VENDOR:?}/$1"
    mkdir -p "$VENDOR/$1"
}

mkdir -p "$VENDOR"

# --- htmx ---------------------------------------------------------------
src="$(fetch htmx.org "$HTMX_VERSION")"
fresh htmx
cp "$src/dist/htmx.min.js" "$VENDOR/htmx/htmx.min.js"
cp "$src/LICENSE" "$VENDOR/htmx/LICENSE"
record htmx.org "$HTMX_VERSION" "$(pkg_json "$src" license)" htmx/htmx.min.js htmx/LICENSE

# --- plotly.js ----------------------------------------------------------
src="$(fetch plotly.js-dist-min "$PLOTLY_VERSION")"
fresh plotly
cp "$src/plotly.min.js" "$VENDOR/plotly/plotly.min.js"
cp "$src/LICENSE" "$VENDOR/plotly/LICENSE"
record plotly.js-dist-min "$PLOTLY_VERSION" "$(pkg_json "$src" license)" plotly/plotly.min.js plotly/LICENSE

# --- posthog-js ---------------------------------------------------------
# posthog-js lazy-loads its extensions (recorder, surveys, ...) from
# <api_host>/static/<name>.js?v=<version>, or /static/<version>/<name>.js with
# strict_script_versioning. Ship every top-level dist/*.js (no maps, no .d.ts)
# plus the upstream SRI manifest, integrity.json, which we check below.
src="$(fetch posthog-js "$POSTHOG_JS_VERSION")"
fresh posthog-js
dest="posthog-js/$POSTHOG_JS_VERSION"
mkdir -p "$VENDOR/$dest"
posthog_files=()
for f in "$src"/dist/*.js; do
    cp "$f" "$VENDOR/$dest/"
    posthog_files+=("$dest/$(basename "$f")")
done
cp "$src/dist/integrity.json" "$VENDOR/$dest/integrity.json"
cp "$src/LICENSE" "$VENDOR/posthog-js/LICENSE"
printf '%s\n' "$POSTHOG_JS_VERSION" >"$VENDOR/posthog-js/VERSION"
# Every .js file integrity.json names (it also lists the .cjs/.mjs module
# builds, which we do not ship) must be present and match its sha384.
node -e '
  const fs = require("fs"), crypto = require("crypto"), path = require("path");
  const dir = process.argv[1];
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "integrity.json"), "utf8"));
  let bad = 0;
  for (const [name, sri] of Object.entries(manifest.files)) {
    if (!name.endsWith(".js")) continue;
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) { console.error("missing " + name); bad++; continue; }
    const got = "sha384-" + crypto.createHash("sha384").update(fs.readFileSync(file)).digest("base64");
    if (got !== sri) { console.error("integrity mismatch " + name); bad++; }
  }
  if (bad) process.exit(1);
' "$VENDOR/$dest"
record posthog-js "$POSTHOG_JS_VERSION" "$(pkg_json "$src" license)" \
    "${posthog_files[@]}" "$dest/integrity.json" posthog-js/LICENSE posthog-js/VERSION

# --- rrweb-player -------------------------------------------------------
# umd/rrweb-player.min.js is a self-contained UMD bundle (rrweb replay, svelte
# runtime, ...) that sets window.rrwebPlayer; dist/style.css is its stylesheet.
src="$(fetch rrweb-player "$RRWEB_PLAYER_VERSION")"
fresh rrweb-player
cp "$src/umd/rrweb-player.min.js" "$VENDOR/rrweb-player/rrweb-player.min.js"
cp "$src/dist/style.css" "$VENDOR/rrweb-player/style.css"
licence="$(pkg_json "$src" license)"
if [[ -f "$src/LICENSE" ]]; then
    cp "$src/LICENSE" "$VENDOR/rrweb-player/LICENSE"
else
    # The npm tarball ships no LICENSE file; package.json says MIT. This is the
    # MIT text with the copyright line of the rrweb monorepo it is built from.
    [[ "$licence" == "MIT" ]] || { echo "vendor_static: rrweb-player licence is now '$licence'" >&2; exit 1; }
    cat >"$VENDOR/rrweb-player/LICENSE" <<'EOF'
rrweb-player is published to npm without a LICENSE file; its package.json
declares "license": "MIT" and its source lives in the rrweb monorepo
(https://github.com/rrweb-io/rrweb, packages/rrweb-player). The notice below is
the MIT licence with that repository's copyright line. The bundle also contains
code from rrweb, rrweb-snapshot, rrdom, @rrweb/packer, svelte, postcss, mitt,
@xstate/fsm and nanoid, all MIT licensed.

MIT License

Copyright (c) 2018 Contributors (https://github.com/rrweb-io/rrweb/graphs/contributors) and SmartX Inc.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF
fi
record rrweb-player "$RRWEB_PLAYER_VERSION" "$licence" \
    rrweb-player/rrweb-player.min.js rrweb-player/style.css rrweb-player/LICENSE

# --- VERSIONS.txt -------------------------------------------------------
{
    echo "# Vendored browser code. Generated by scripts/vendor_static.sh; do not edit by hand."
    echo "# Source: the npm registry, fetched with npm pack (tarball integrity checked by npm)."
    echo "#"
    printf '# %-20s %-10s %-22s %s\n' package version licence "tarball integrity"
    cat "$HEADERS"
    echo "#"
    echo "# One row per copied file, tab-separated: package, version, licence, sha256, path under static/vendor/."
    echo '# Check: cd static/vendor && awk -F"\t" '"'"'!/^#/ && NF {print $4 "  " $5}'"'"' VERSIONS.txt | sha256sum -c'
    cat "$ROWS"
} >"$VENDOR/VERSIONS.txt"

echo "vendor_static: wrote $(wc -l <"$ROWS") files under static/vendor ($(du -sh "$VENDOR" | cut -f1))"
