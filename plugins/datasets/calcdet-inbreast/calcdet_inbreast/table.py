"""INbreast's image table (``INbreast.xls`` when present, else ``INbreast.csv``).

The release's table is anonymised ("removed" in the patient columns), pads blank ACR
cells with spaces and, in the .xls, stores file names as numbers. Rows come back keyed
by file name; rows that cannot be used are reported, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calcdet_core.api import InvalidInputError, SkippedItem

COLUMNS = ("Patient ID", "Patient age", "Laterality", "View", "Acquisition date", "File Name", "ACR", "Bi-Rads")
FINDING_COLUMNS = ("Mass", "Micros", "Distortion", "Asymmetry")
"""The .xls's finding columns (a mark such as ``X`` where the image shows one); the .csv lacks them."""
PLACEHOLDERS = {"", "removed", "nan", "none", "-"}


@dataclass(frozen=True)
class TableRow:
    """One image's row; ``None`` where the release says nothing."""

    file_name: str
    source: str  # "INbreast.csv:7" - where the row came from, for messages
    laterality: str | None
    view: str | None
    acr: int | None
    birads: str | None
    acquisition_date: str | None
    findings: tuple[str, ...] = ()  # the finding columns marked on this row

    @property
    def says_normal(self) -> bool:
        """The row states a normal image: BI-RADS 1 and no finding column marked."""
        return self.birads is not None and self.birads.startswith("1") and not self.findings

    def stated(self) -> str:
        """What the row says about findings, for messages."""
        marked = f", {'/'.join(self.findings)} marked" if self.findings else ""
        return f"{self.source} gives BI-RADS {self.birads or 'unknown'}{marked}"


def _clean(value: object) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return None if text.lower() in PLACEHOLDERS else text


def _row(cells: dict[str, object], source: str) -> TableRow | SkippedItem:
    file_name = _clean(cells.get("File Name", ""))
    if file_name is None:
        return SkippedItem(source, "row has no File Name")
    acr_text = _clean(cells.get("ACR", ""))
    try:
        acr = None if acr_text is None else int(float(acr_text))
    except ValueError:
        return SkippedItem(source, f"ACR {acr_text!r} of File Name {file_name} is not a number 1-4")
    if acr is not None and not 1 <= acr <= 4:
        return SkippedItem(source, f"ACR {acr} of File Name {file_name} is not 1-4")
    lat, view = _clean(cells.get("Laterality", "")), _clean(cells.get("View", ""))
    findings = tuple(c for c in FINDING_COLUMNS if _clean(cells.get(c, "")) is not None)
    return TableRow(file_name, source, lat.upper() if lat else None, view.upper() if view else None, acr,
                    _clean(cells.get("Bi-Rads", "")), _clean(cells.get("Acquisition date", "")), findings)


def _check_header(header: list[str], source: str) -> None:
    missing = [c for c in ("File Name",) if c not in header]
    if missing:
        raise InvalidInputError(f"{source}: header lacks {', '.join(missing)}; expected columns {'; '.join(COLUMNS)}")


def _read_csv(path: Path) -> list[TableRow | SkippedItem]:
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the table ({exc.strerror or exc})") from exc
    if not lines:
        raise InvalidInputError(f"{path}: the table is empty")
    header = [h.strip() for h in lines[0].split(";")]
    _check_header(header, str(path))
    out: list[TableRow | SkippedItem] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip(" ;"):
            continue  # a blank line carries no image
        cells = line.split(";")
        while len(cells) > len(header) and not cells[-1].strip():
            cells.pop()  # trailing separators
        cells += [""] * (len(header) - len(cells))  # trailing empty cells left out
        source = f"{path.name}:{number}"
        if len(cells) != len(header):
            out.append(SkippedItem(source, f"row has {len(cells)} fields, the header {len(header)}"))
            continue
        out.append(_row(dict(zip(header, cells, strict=True)), source))
    return out


def _read_xls(path: Path) -> list[TableRow | SkippedItem]:
    import xlrd

    try:
        sheet = xlrd.open_workbook(str(path)).sheet_by_index(0)
    except Exception as exc:
        raise InvalidInputError(f"{path}: not a readable .xls workbook ({type(exc).__name__}: {exc})") from exc
    if sheet.nrows == 0:
        raise InvalidInputError(f"{path}: the table is empty")
    header = [str(v).strip() for v in sheet.row_values(0)]
    _check_header(header, str(path))
    out: list[TableRow | SkippedItem] = []
    for r in range(1, sheet.nrows):
        values = sheet.row_values(r)
        if all(_clean(v) is None for v in values):
            continue
        out.append(_row(dict(zip(header, values, strict=False)), f"{path.name}:{r + 1}"))
    return out


def read_table(root: Path) -> tuple[dict[str, TableRow], list[SkippedItem], str | None]:
    """Rows by file name, the rows not used (and why), and which file was read (``None``: no table)."""
    xls, csv = root / "INbreast.xls", root / "INbreast.csv"
    if xls.is_file():
        path, parsed = xls, _read_xls(xls)
    elif csv.is_file():
        path, parsed = csv, _read_csv(csv)
    else:
        return {}, [], None
    rows: dict[str, TableRow] = {}
    skipped = [p for p in parsed if isinstance(p, SkippedItem)]
    for row in (p for p in parsed if isinstance(p, TableRow)):
        if row.file_name in rows:
            skipped.append(SkippedItem(row.source, f"File Name {row.file_name} repeats "
                                                   f"{rows[row.file_name].source}; the first row is used"))
            continue
        rows[row.file_name] = row
    return rows, skipped, path.name
