package tests

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/tests/harness"
)

// TestImportDirection keeps the architecture honest: the runner never
// depends on the coordinator (nor the coordinator on the runner), and pkg/
// depends on neither. Transitive dependencies count.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/gantry-ci/gantry/"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	cmd.Dir = harness.Root()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string][]string{
		mod + "runner":      {mod + "coordinator"},
		mod + "coordinator": {mod + "runner"},
		mod + "pkg":         {mod + "coordinator", mod + "runner"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		for side, banned := range forbidden {
			if pkg != side && !strings.HasPrefix(pkg, side+"/") {
				continue
			}
			checked++
			for _, d := range deps {
				for _, b := range banned {
					if d == b || strings.HasPrefix(d, b+"/") {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages checked; the module layout changed?", checked)
	}
}
