package tuner

import (
	"testing"

	"github.com/c-bata/goptuna"
)

// localTrial is a finished trial over two categorical levers, "mode" (fast, slow, eager, never) and "interval"
// (1, 2, 16), told value v.
func localTrial(number int, mode, interval float64, v float64) goptuna.FrozenTrial {
	return goptuna.FrozenTrial{
		ID: number + 1, Number: number, State: goptuna.TrialStateComplete, Value: v,
		InternalParams: map[string]float64{"mode": mode, "interval": interval},
		Distributions: map[string]interface{}{
			"mode":     goptuna.CategoricalDistribution{Choices: []string{"fast", "slow", "eager", "never"}},
			"interval": goptuna.CategoricalDistribution{Choices: []string{"1", "2", "16"}},
		},
	}
}

// The local move follows the evidence of every trial: a value that only ever missed the SLA comes last (it was
// first under the density ratio with a prior count per value, as nobody had tried it around the incumbent), a
// value of fast trials goes first, and a value nobody tried ranks between them.
func TestNextMoveFollowsTheEvidence(t *testing.T) {
	const fast, slow, eager, never = 0, 1, 2, 3
	const i1, i2, i16 = 0, 1, 2
	inc := localTrial(5, slow, i1, 1000)
	cases := []struct {
		name   string
		trials []goptuna.FrozenTrial
		param  string
		value  float64
	}{
		{"interval 16 wins wherever it was measured", []goptuna.FrozenTrial{
			inc,
			localTrial(1, fast, i2, 900),
			localTrial(2, eager, i16, -1.5), // an SLA miss: eager mode's fault, seen once more below
			localTrial(3, eager, i1, -1.2),
			localTrial(4, fast, i1, 950),
			localTrial(6, fast, i16, 1120),
		}, "interval", i16},
		{"fast mode wins in every company", []goptuna.FrozenTrial{
			inc,
			localTrial(1, fast, i2, 1300),
			localTrial(2, fast, i16, 1250),
			localTrial(3, eager, i2, -1.2),
			localTrial(4, slow, i16, 990),
		}, "mode", fast},
		// The density ratio with a prior count of 1 per value chose eager here, which nobody had tried.
		{"a value of the best trials before one nobody tried", []goptuna.FrozenTrial{
			inc,
			localTrial(1, fast, i2, 1100), localTrial(2, fast, i16, 1080), localTrial(3, slow, i2, 1020),
			localTrial(4, slow, i16, 990), localTrial(6, fast, i2, 950), localTrial(7, fast, i16, 940),
			localTrial(8, slow, i2, 930), localTrial(9, never, i2, 920), localTrial(10, never, i16, 900),
			localTrial(11, slow, i16, 910), localTrial(12, fast, i2, 905), localTrial(13, slow, i2, 880),
		}, "mode", fast},
		{"an untried value before one that only failed", []goptuna.FrozenTrial{
			inc,
			localTrial(7, fast, i1, 980),
			localTrial(1, eager, i2, -1.2),
			localTrial(2, eager, i16, -1.3),
			localTrial(4, slow, i2, 990), // every interval measured around the incumbent's mode
			localTrial(6, slow, i16, 1000),
		}, "mode", never},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := nextMove(inc, c.trials, 1)
			if !ok {
				t.Fatal("no move")
			}
			if got.param != c.param || got.value != c.value {
				t.Errorf("move %s=%s (score %.3f), want %s=%g", got.param, got.shown, got.score, c.param, c.value)
			}
		})
	}
}

// A move already measured around the incumbent is not proposed again, and with every move measured there is none.
func TestNextMoveSkipsMeasuredMoves(t *testing.T) {
	inc := localTrial(0, 0, 0, 1000)
	trials := []goptuna.FrozenTrial{inc}
	for i := 0; ; i++ {
		m, ok := nextMove(inc, trials, 1)
		if !ok {
			if i != 3+2 {
				t.Errorf("%d moves before none was left, want 5 (3 other modes, 2 other intervals)", i)
			}
			return
		}
		params := map[string]float64{"mode": 0, "interval": 0}
		params[m.param] = m.value
		for _, ft := range trials {
			if ft.InternalParams["mode"] == params["mode"] && ft.InternalParams["interval"] == params["interval"] {
				t.Fatalf("move %d, %s=%s, was measured already", i, m.param, m.shown)
			}
		}
		trials = append(trials, localTrial(len(trials), params["mode"], params["interval"], 900))
		if i > 10 {
			t.Fatal("moves never run out")
		}
	}
}
