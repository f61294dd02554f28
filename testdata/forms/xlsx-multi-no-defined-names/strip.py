# Makes a multi-user workbook lose what ties it to the form: every defined
# name is deleted and both sheets are renamed, as when the sheets are copied
# into a new workbook. By openpyxl (Debian python3-openpyxl 3.0.9):
#   python3 strip.py in.xlsx input.xlsx
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
for dn in list(wb.defined_names.definedName):
    wb.defined_names.delete(dn.name)
wb["Ansökan"].title = "Blad1"
wb["Användare"].title = "Blad2"
wb.save(sys.argv[2])
