//go:build ignore

// Command encrypt saves a workbook with the open password "x" (ECMA-376
// agile encryption, an OLE compound file) using excelize:
//
//	go run ./testdata/forms/xlsx-encrypted/encrypt.go in.xlsx out.xlsx
package main

import (
	"log"
	"os"

	"github.com/xuri/excelize/v2"
)

func main() {
	f, err := excelize.OpenFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if err := f.SaveAs(os.Args[2], excelize.Options{Password: "x"}); err != nil {
		log.Fatal(err)
	}
}
