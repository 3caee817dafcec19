package main

import (
	_ "github.com/c-bata/goptuna/tpe"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/spf13/pflag"
)

func main() {}
