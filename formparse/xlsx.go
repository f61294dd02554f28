package formparse

import "fmt"

// readXLSX extracts the fields of a workbook. (Being written.)
func readXLSX(data []byte, opts Options) (*Raw, error) {
	return nil, fmt.Errorf("%w: workbook reading is not written yet", ErrNotAForm)
}
