"""Write (or check) the OpenAPI document of every HTTP service into `openapi/`.

`python openapi/generate.py` writes them; `--check` exits 1 when a committed
document differs from what the code produces.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVICES = ("identity", "api", "scheduler", "mailer", "inbound")


def document(service: str) -> dict[str, Any]:
    """The OpenAPI document the service's code produces."""
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app()
    doc: dict[str, Any] = app.openapi()
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_of(service: str) -> Path:
    return HERE / f"{service}.json"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for service in SERVICES:
        text = render(document(service))
        target = path_of(service)
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.name)
        else:
            target.write_text(text)
    if stale:
        print(f"OpenAPI documents out of date: {', '.join(stale)}; run `make openapi`.")
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main(sys.argv[1:]))
