package gitlab

import "testing"

func TestExpandVariables(t *testing.T) {
	vars := lookupIn(map[string]string{
		"HOME":   "/home/ci",
		"EMPTY":  "",
		"A_1":    "one",
		"NESTED": "$HOME",
		"_X":     "x",
	})
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"no references", "no references"},
		{"$HOME", "/home/ci"},
		{"${HOME}", "/home/ci"},
		{"${HOME}/bin:$HOME/sbin", "/home/ci/bin:/home/ci/sbin"},
		{"$HOMEDIR", ""},
		{"${HOME}DIR", "/home/ciDIR"},
		{"$HOME-dir", "/home/ci-dir"},
		{"$A_1$A_1", "oneone"},
		{"$_X", "x"},
		{"[$EMPTY]", "[]"},
		{"[$UNSET]", "[]"},
		{"[${UNSET}]", "[]"},
		{"$$", "$"},
		{"$$HOME", "$HOME"},
		{"$$$HOME", "$/home/ci"},
		{"$$$$", "$$"},
		{"cost: $5", "cost: $5"},
		{"$", "$"},
		{"a $ b", "a $ b"},
		{"${}", "${}"},
		{"${HOME", "${HOME"},
		{"${1A}", "${1A}"},
		{"${A-B}", "${A-B}"},
		{"$-", "$-"},
		{"%HOME%", "%HOME%"},
		{"$NESTED", "$HOME"},
		{"é$HOME€", "é/home/ci€"},
	}
	for _, tt := range tests {
		if got := ExpandVariables(tt.in, vars); got != tt.want {
			t.Errorf("ExpandVariables(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := ExpandVariables("a${HOME}b$$", nil); got != "ab$" {
		t.Errorf("with a nil lookup: %q, want %q", got, "ab$")
	}
}
