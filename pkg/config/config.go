// Package config gives every Gantry binary the same configuration rules:
// each flag can also come from a GANTRY_* environment variable or from a
// YAML config file, with precedence flag > environment > file > default,
// and secrets can be read from files.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// EnvName returns the environment variable for a flag: "lease-ttl" ->
// "GANTRY_LEASE_TTL".
func EnvName(flag string) string {
	return "GANTRY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Apply fills every flag not set on the command line from its environment
// variable, then from file (a YAML mapping of flag names to values; ""
// means no file). List flags take YAML lists or comma-separated strings.
// The flag named "config" itself is skipped.
func Apply(flags *pflag.FlagSet, file string) error {
	fromFile := map[string]any{}
	if file != "" {
		data, err := os.ReadFile(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read config file: %w", err)
		default:
			if err := yaml.Unmarshal(data, &fromFile); err != nil {
				return fmt.Errorf("config file %s: %w", file, err)
			}
		}
	}
	for key := range fromFile {
		if flags.Lookup(key) == nil {
			return fmt.Errorf("config file %s: unknown setting %q (settings are the flag names, e.g. %q)", file, key, firstFlag(flags))
		}
	}
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
			return
		}
		v, ok := fromFile[f.Name]
		if !ok || v == nil {
			return
		}
		if list, isList := v.([]any); isList {
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				items := make([]string, len(list))
				for i, it := range list {
					items[i] = fmt.Sprint(it)
				}
				if err := sv.Replace(items); err != nil {
					errs = append(errs, fmt.Errorf("config file %s: %s: %w", file, f.Name, err))
				}
				return
			}
		}
		if err := f.Value.Set(fmt.Sprint(v)); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", file, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

func firstFlag(flags *pflag.FlagSet) string {
	name := ""
	flags.VisitAll(func(f *pflag.Flag) {
		if name == "" && f.Name != "config" {
			name = f.Name
		}
	})
	return name
}

// Secret returns value, or the trimmed contents of file when file is set.
func Secret(value, file, what string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s from %s: %w", what, file, err)
	}
	return strings.TrimSpace(string(b)), nil
}
