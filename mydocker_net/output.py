"""Turning records into what the user reads: tables for people, JSON for scripts."""

from __future__ import annotations

import json

from mydocker_net.models import Network

LIST_COLUMNS = ("name", "driver", "subnet", "gateway", "bridge", "internal", "endpoints", "status")


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


def doctor_json(report, fixing: bool) -> str:
    problems = []
    for index, problem in enumerate(report.problems):
        record = problem.to_dict()
        if fixing:
            record["fixed"] = report.fixed(index)
            if index in report.errors:
                record["error"] = str(report.errors[index])
        problems.append(record)
    return to_json({"consistent": not report.remaining, "networks": report.checked,
                    "problems": problems,
                    "remaining": [p.to_dict() for p in report.remaining]})
