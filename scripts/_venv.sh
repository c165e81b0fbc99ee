# Shared by run.sh and test.sh: find Python 3.11+, create .venv, install the project.
pick_python() {
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
      echo "$candidate"; return 0
    fi
  done
  echo "Sextant needs Python 3.11 or 3.12 (python3.11 on PATH)." >&2
  return 1
}

ensure_venv() {  # $1: extras, e.g. "[dev]" or ""
  local extras="$1" base stamp
  base=$(pick_python)
  if [ ! -x .venv/bin/python ]; then
    "$base" -m venv .venv
  fi
  PY=.venv/bin/python
  stamp=".venv/.installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e ".${extras}"
    touch "$stamp"
  fi
}
