"""``python -m services.kit.devstack``: the whole stack, locally (what ``make run`` runs)."""

from services.kit.devstack.launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
