"""Small workbooks for tests, written with openpyxl from real rows: truncated lists, new columns, copies."""
import openpyxl


def write_workbook(path, rows, before=()):
    """An .xlsx at path with a sheet holding rows (lists of cell values), after the sheets before: [(name, rows)]."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for r in rows:
        ws.append(r)
    for position, (name, sheet_rows) in enumerate(before):
        other = wb.create_sheet(name, position)
        for r in sheet_rows:
            other.append(r)
    wb.save(path)
    return path


def real_rows(path):
    """Every row of a real workbook's first sheet, as lists of values."""
    return [list(r) for r in openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)]
