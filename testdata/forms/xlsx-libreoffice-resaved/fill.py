# Fills the blank single-user workbook through its defined names with
# openpyxl (Debian python3-openpyxl 3.0.9): python3 fill.py blank.xlsx filled.xlsx
import datetime
import os
import sys

values = {
    "arende": "Ny registrering",
    "galler_fran": datetime.datetime(2026, 12, 1),
    "fornamn": "Åsa",
    "efternamn": "Öberg",
    "hsa_id": "SE2321000131-E000000000001",
    "yrke": "Arbetsterapeut",
    "epost": "asa.oberg@region.example.se",
    "telefon": "010-473 12 34",
    "verksamhet": "Hälso- och sjukvårdsförvaltningen",
    "enhet": "Rehabenheten Ängelholm",
    "kundnummer": 602154,
    "ovriga_kundnummer": "602155, 602156",
    "buffertforrad": "Förråd Ängelholm",
    "roll_forskrivare": "Ja",
    "roll_bestallare": "Nej",
    "chef_namn": "René Lindén",
    "chef_epost": "rene.linden@region.example.se",
    "chef_telefon": "010-473 12 00",
    "datum": "2026-11-28",
}

# fill_by_name is shared by the workbook fixtures, one folder up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fillnames import fill_by_name  # noqa: E402

fill_by_name(sys.argv[1], values).save(sys.argv[2])
