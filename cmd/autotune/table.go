package main

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// newTable returns a table for people. Headers are printed as written: tablewriter's default upper-cases them
// and spaces out "#7" into "# 7".
func newTable(w io.Writer) *tablewriter.Table {
	cfg := tablewriter.NewConfigBuilder().WithHeaderAutoFormat(tw.Off).WithRowAutoWrap(tw.WrapNone).Build()
	return tablewriter.NewTable(w, tablewriter.WithConfig(cfg))
}
