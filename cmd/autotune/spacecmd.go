package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/autotune/autotune/runner"
	"github.com/autotune/autotune/space"
)

func runSpace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("space", stderr)
	format := fs.String("format", "table", "output format: table or json")
	var m machineFlags
	m.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("space: unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: must be table or json", *format)
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := runner.Supported(); err != nil {
		return err // the probes start processes
	}
	scratch, err := os.MkdirTemp("", "autotune-space-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	ropts, err := m.runnerOptions(scratch, 1)
	if err != nil {
		return err
	}
	plat, _, err := m.platform(ctx, runner.New(ropts))
	if err != nil {
		return err
	}
	sp, err := m.space(plat, stderr)
	if err != nil {
		return err
	}
	d := sp.Describe()
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	writeSpace(stdout, d, m.simulate)
	return nil
}

func writeSpace(w io.Writer, d space.Description, simulated bool) {
	if simulated {
		fmt.Fprintln(w, "SIMULATED: the probes answered as autotune's simulator of vLLM 0.15.1 on a Tesla T4.")
	}
	fmt.Fprintf(w, "Search space for vLLM %s on %s (compute %.1f, %d MiB); workload: concurrency %d, %d in / %d out\n",
		orUnknown(d.VLLMVersion), orUnknown(d.GPU), d.ComputeCap, d.MemoryMiB, d.Workload.Concurrency,
		d.Workload.InputLen, d.Workload.OutputLen)
	if d.Source != "" {
		fmt.Fprintf(w, "space file: %s\n", d.Source)
	}
	fmt.Fprintf(w, "fingerprint: %s\n\n", d.Fingerprint)
	tw := newTable(w)
	tw.Header("parameter", "flag", "values", "default", "when")
	for _, p := range d.Params {
		flag := p.Flag
		if flag == "" && p.Env != "" {
			flag = "env " + p.Env
		}
		values := p.Domain
		if p.Fixed != "" {
			values = "fixed: " + p.Fixed
		}
		tw.Append(p.Name, flag, clip(values, 60), p.Default, p.Condition)
	}
	tw.Render()
	if len(d.Dropped) > 0 {
		fmt.Fprintln(w, "\nLeft out:")
		for _, x := range d.Dropped {
			what := x.Param
			if x.Value != "" {
				what += "=" + x.Value
			}
			fmt.Fprintf(w, "  %-36s %s\n", what, x.Reason)
		}
	}
	if len(d.KnownGood) > 0 {
		fmt.Fprintln(w, "\nStarting points (run after the baseline):")
		for _, k := range d.KnownGood {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
	for _, s := range d.Skipped {
		fmt.Fprintf(w, "  skipped: %s\n", s)
	}
	if len(d.Rules) > 0 {
		fmt.Fprintln(w, "\nConstraints kept while sampling (what vLLM would refuse):")
		for _, r := range d.Rules {
			fmt.Fprintf(w, "  %-28s %s [%s]\n", r.ID, clip(r.Message, 90), r.Enforced)
		}
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
