"""The built-in leaderboard exporters (plugin ``exporters``; ``-p no:exporters`` removes them).

An exporter is a class with ``name``, ``formats`` (what ``--format`` accepts) and
``export(rows, fmt) -> str | bytes``; ``rows`` are `harness.results.leaderboard.build_rows`'s dicts.
Tables for people use every `tabulate` format (``md`` is ``github``); files for programs keep
every field unformatted: csv, json, jsonl and parquet (through the optional `datasets`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, ClassVar

from tabulate import tabulate, tabulate_formats

from harness import hookimpl
from harness.errors import UsageError
from harness.results.leaderboard import display_table

Rows = list[dict[str, Any]]


class TableExporter:
    name: ClassVar[str] = "table"
    formats: ClassVar[tuple[str, ...]] = ("md", *tabulate_formats)

    def export(self, rows: Rows, fmt: str) -> str:
        headers, cells = display_table(rows)
        return tabulate(cells, headers=headers, tablefmt="github" if fmt == "md" else fmt, disable_numparse=True) + "\n"


class CsvExporter:
    name: ClassVar[str] = "csv"
    formats: ClassVar[tuple[str, ...]] = ("csv",)

    def export(self, rows: Rows, fmt: str) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: " ".join(map(str, value)) if isinstance(value, list) else value for key, value in row.items()})
        return out.getvalue()


class JsonExporter:
    name: ClassVar[str] = "json"
    formats: ClassVar[tuple[str, ...]] = ("json", "jsonl")

    def export(self, rows: Rows, fmt: str) -> str:
        if fmt == "jsonl":
            return "".join(json.dumps(row) + "\n" for row in rows)
        return json.dumps(rows, indent=2) + "\n"


class ParquetExporter:
    name: ClassVar[str] = "parquet"
    formats: ClassVar[tuple[str, ...]] = ("parquet",)

    def export(self, rows: Rows, fmt: str) -> bytes:
        try:
            import datasets
        except ImportError:
            raise UsageError("--format parquet needs the optional package datasets: pip install datasets (or pip install 'mas-harness[hf]')") from None
        datasets.disable_progress_bars()
        out = io.BytesIO()
        datasets.Dataset.from_list(rows).to_parquet(out)
        return out.getvalue()


@hookimpl
def harness_add_exporters() -> list[type]:
    return [TableExporter, CsvExporter, JsonExporter, ParquetExporter]
