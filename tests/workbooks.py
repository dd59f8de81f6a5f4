"""Small workbooks for tests, written with openpyxl from real rows: truncated lists, new columns, copies."""
import openpyxl


def write_workbook(path, rows):
    """An .xlsx at path with one sheet holding rows (lists of cell values)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def real_rows(path):
    """Every row of a real workbook's first sheet, as lists of values."""
    return [list(r) for r in openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)]
