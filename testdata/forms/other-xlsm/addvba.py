# Adds an xl/vbaProject.bin part (its content type and relationship too) to a
# macro-enabled workbook written by LibreOffice, which writes no VBA part when
# the document has no macros. The part's bytes are a placeholder (an OLE
# compound file header followed by zeros), not a working VBA project: the
# reader must refuse the file for what it is, whatever the project holds.
#   python3 addvba.py in.xlsm input.xlsm
import sys
import zipfile

ole = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
src, dst = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED)
for item in src.infolist():
    data = src.read(item.filename)
    if item.filename == "[Content_Types].xml":
        data = data.replace(b"</Types>", b'<Override PartName="/xl/vbaProject.bin" '
                            b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    if item.filename == "xl/_rels/workbook.xml.rels":
        data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVBA" '
                            b'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                            b'Target="vbaProject.bin"/></Relationships>')
    dst.writestr(item, data)
dst.writestr("xl/vbaProject.bin", ole)
dst.close()
