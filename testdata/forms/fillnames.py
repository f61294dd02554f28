# The shared part of the fill.py scripts of the workbook fixtures: filling
# a blank workbook's cells through its defined names, by openpyxl.
import openpyxl


def fill_by_name(blank, values, number_format=None):
    """Opens the workbook blank and puts each of values into the cell its
    defined name refers to. number_format, when given, is the number format
    of every cell filled, or a dict of formats by name (a name it lacks
    keeps its cell's format). Returns the workbook, not yet saved."""
    wb = openpyxl.load_workbook(blank)
    for dn in wb.defined_names.definedName:
        if dn.name in values:
            for sheet, coord in dn.destinations:
                cell = wb[sheet][coord.replace("$", "")]
                cell.value = values[dn.name]
                fmt = number_format.get(dn.name) if isinstance(number_format, dict) else number_format
                if fmt is not None:
                    cell.number_format = fmt
    return wb
