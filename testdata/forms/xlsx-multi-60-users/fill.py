# Fills the blank multi-user workbook with 60 users by openpyxl (Debian
# python3-openpyxl 3.0.9): python3 fill.py blank.xlsx input.xlsx
# Rows are generated from fixed name lists, so the file is the same every
# run. Row 25 is left empty; user 17 has an e-mail without a domain and user
# 42 has no Efternamn.
import datetime
import os
import sys

shared = {
    "arende": "Ny registrering",
    "galler_fran": datetime.date(2027, 2, 1),
    "verksamhet": "Kommunal hälso- och sjukvård",
    "enhet": "Hemsjukvården Örkelljunga",
    "kundnummer": "602154",
    "ovriga_kundnummer": "602155; 602156",
    "roll_forskrivare": "Ja",
    "roll_bestallare": "Ja",
    "chef_namn": "Märta Sjöström",
    "chef_epost": "marta.sjostrom@region.example.se",
    "chef_telefon": "0435-55 10 00",
    "datum": datetime.date(2026, 11, 27),
}
first = ["Åsa", "Björn", "René", "Märta", "Göran", "Ingrid", "Oskar", "Léa", "Sören", "Karin"]
last = ["Öberg", "Ekström", "Lindén", "Åberg", "Nyström", "Källén", "Holmqvist", "Sjöberg"]
titles = ["Sjuksköterska", "Arbetsterapeut", "Fysioterapeut", "Undersköterska"]

# fill_by_name is shared by the workbook fixtures, one folder up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fillnames import fill_by_name  # noqa: E402

wb = fill_by_name(sys.argv[1], shared)

ws = wb["Användare"]
header = 3  # the blank form's header row
row = header
for n in range(1, 61):
    row = header + n if n < 25 else header + n + 1  # row 25 below the header stays empty
    fn, ln = first[n % len(first)], last[(n * 3) % len(last)]
    user = [
        fn,
        ln,
        "SE2321000131-E%012d" % (1000 + n) if n % 4 == 0 else None,
        titles[n % len(titles)],
        "%s.%s%d@region.example.se" % ("user", "nr", n),
        "010-473 %02d %02d" % (n // 10 + 10, n % 100),
    ]
    if n == 17:
        user[4] = "user.nr17@"
    if n == 42:
        user[1] = None
    for i, v in enumerate(user):
        ws.cell(row=row, column=i + 1, value=v)
wb.save(sys.argv[2])
