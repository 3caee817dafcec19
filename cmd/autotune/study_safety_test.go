package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autotune/autotune/store"
)

// TestEarlyFailureDeletesNothing: a run whose probe fails while another autotune creates the same --db (the
// probe here plays that other autotune: it writes a study and a trial folder, then fails) leaves both in place.
// Before, the run had decided from a stat that the database was new, opened it, and on the failure removed the
// database and the trial folders the other run was using.
func TestEarlyFailureDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	d, err := store.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CreateStudy(store.Study{ID: 1, Name: "default", Model: "m", WorkloadJSON: "{}", SLAJSON: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	want, _ := os.ReadFile(other)
	db := filepath.Join(dir, "tuning.db")
	log := filepath.Join(dir, "tuning.trials", "trial-0000", "server.log")
	smi := filepath.Join(dir, "nvidia-smi")
	script := "#!/bin/sh\ncp \"$1\" \"$2\" && mkdir -p \"$(dirname \"$3\")\" && echo other > \"$3\"\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n"
	if err := os.WriteFile(smi, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs := cli(t, "--trials", "1", "--db", db, "--nvidia-smi", smi+" "+other+" "+db+" "+log, "--vllm", "/nonexistent/vllm")
	if code != 1 || !strings.Contains(errs, "probe") {
		t.Fatalf("exit %d, stderr %q; want the probe failure", code, errs)
	}
	if got, err := os.ReadFile(db); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the other run's database was removed or changed: %v", err)
	}
	if got, err := os.ReadFile(log); err != nil || string(got) != "other\n" {
		t.Errorf("the other run's trial folder was removed or changed: %q, %v", got, err)
	}
}

// TestStudiesHaveTheirOwnTrialFolders: two studies in one --db write different trial folders, and `show`
// points each at its own logs. Before, both wrote tuning.trials/trial-0000 and the second overwrote the first.
func TestStudiesHaveTheirOwnTrialFolders(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tuning.db")
	logs := map[string]string{}
	for _, study := range []string{"default", "two", "../three"} {
		if code, _, errs := cli(t, append(simFlags(t, db, "400"), "--trials", "1", "--study", study)...); code != 0 {
			t.Fatalf("study %s: exit %d\n%s", study, code, errs)
		}
		code, out, errs := cli(t, "show", "0", "--db", db, "--study", study)
		if code != 0 {
			t.Fatalf("show 0 --study %s: exit %d\n%s", study, code, errs)
		}
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, filepath.Join(dir, "tuning.trials")); i >= 0 && strings.Contains(line, "server.log") {
				logs[study] = strings.Fields(line[i:])[0]
			}
		}
	}
	want := map[string]string{
		"default":  filepath.Join(dir, "tuning.trials", "trial-0000", "server.log"),
		"two":      filepath.Join(dir, "tuning.trials", "study-two", "trial-0000", "server.log"),
		"../three": filepath.Join(dir, "tuning.trials", "study-..%2Fthree", "trial-0000", "server.log"),
	}
	for study, path := range want {
		if logs[study] != path {
			t.Errorf("study %s: show points at %q, want %q", study, logs[study], path)
		}
		if data, err := os.ReadFile(path); err != nil || len(data) == 0 {
			t.Errorf("study %s: log %s: %v", study, path, err)
		}
	}
}
