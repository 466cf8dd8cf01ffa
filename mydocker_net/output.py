"""Turning records into what the user reads: tables for people, JSON for scripts."""

from __future__ import annotations

import json

from mydocker_net.models import Network

LIST_COLUMNS = ("name", "driver", "subnet", "gateway", "bridge", "internal", "status")


def to_json(data) -> str:
    return json.dumps(data, indent=2)


def network_table(networks: list[Network]) -> str:
    from tabulate import tabulate  # noqa: PLC0415 - only tables need it; JSON output stays lean

    rows = [[_cell(net.summary()[col]) for col in LIST_COLUMNS] for net in networks]
    return tabulate(rows, headers=[c.upper() for c in LIST_COLUMNS], tablefmt="plain")


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
