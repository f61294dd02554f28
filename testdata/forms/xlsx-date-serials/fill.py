# Fills the blank single-user workbook (an Ändring with leave of absence)
# with dates written four ways, by openpyxl (Debian python3-openpyxl 3.0.9):
#   python3 fill.py blank.xlsx input.xlsx
import datetime
import os
import sys

values = {
    "arende": "Ändring",
    # A real date cell in the form's own yyyy-mm-dd format.
    "galler_fran": datetime.date(2027, 1, 4),
    "fornamn": "Björn",
    "efternamn": "Ekström",
    "yrke": "Fysioterapeut",
    "epost": "bjorn.ekstrom@region.example.se",
    "telefon": "0431-123 45",
    "verksamhet": "Primärvården",
    "enhet": "Vårdcentralen Höör",
    "kundnummer": "602 154",
    "andring_tjanstledighet": "X",
    # An unformatted serial number (the date typed into a General cell):
    # 46388 is 2027-01-01.
    "tjanstledig_fran": 46388,
    # A real date cell with another date format, d/m/yyyy.
    "tjanstledig_till": datetime.datetime(2027, 6, 30),
    "chef_namn": "Åsa Öberg",
    "chef_epost": "asa.oberg@region.example.se",
    "chef_telefon": "+46 10 473 12 00",
    # A date typed as digits into a text cell stays as written.
    "datum": "20261215",
}
formats = {"tjanstledig_fran": "General", "tjanstledig_till": "d/m/yyyy", "datum": "@"}

# fill_by_name is shared by the workbook fixtures, one folder up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fillnames import fill_by_name  # noqa: E402

fill_by_name(sys.argv[1], values, formats).save(sys.argv[2])
