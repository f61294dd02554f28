# Fills the blank single-user workbook with values a manager gets wrong (and a
# few written oddly but right), by openpyxl (Debian python3-openpyxl 3.0.9):
#   python3 fill.py blank.xlsx input.xlsx
import os
import sys

values = {
    # The label in capitals: accepted as andring.
    "arende": "ÄNDRING",
    # 31 April does not exist: a problem, never a guess.
    "galler_fran": "31.4.2026",
    # A decomposed å (as a Mac may write it) and non-breaking spaces.
    "fornamn": "A\u030asa\u00a0\u00a0Maria",
    "efternamn": "  Öberg ",
    # Lower case: stored in capitals.
    "hsa_id": "se2321000131-e000000000001",
    "yrke": "Arbetsterapeut",
    # A display name: not a bare address.
    "epost": "Åsa Öberg <asa.oberg@region.example.se>",
    # Six digits only.
    "telefon": "473 80 8",
    "verksamhet": "Hälso- och sjukvårdsförvaltningen",
    "enhet": "Rehab\tVäst",
    # Spaces are allowed in a kundnummer.
    "kundnummer": "602 154",
    # 6021 has four digits.
    "ovriga_kundnummer": "602155;6021",
    # Not Ja or Nej.
    "roll_forskrivare": "kanske",
    "andring_tjanstledighet": "x",
    "tjanstledig_fran": "2027-06-30",
    # Before tjanstledig_fran.
    "tjanstledig_till": "1/1/2027",
    # Ticked, but tidigare_namn left empty.
    "andring_namnbyte": "Ja",
    "andring_arbetsplats": "Nej",
    "andring_roll": "",
    "chef_namn": "René Lindén",
    # A mailto: link pasted from a mail program: accepted without the prefix.
    "chef_epost": "mailto:rene.linden@region.example.se",
    "chef_telefon": "+46 (0)10-473 80 81",
    # Month 13.
    "datum": "20261301",
}

# fill_by_name is shared by the workbook fixtures, one folder up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fillnames import fill_by_name  # noqa: E402

fill_by_name(sys.argv[1], values, "@").save(sys.argv[2])
