package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// cmdConfig runs `config check`: every problem of the configuration, one
// per line with its key path; exit 0 when there is none, 2 otherwise.
func cmdConfig(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || args[0] != "check" {
		return exitUsage, usageError{errors.New("config: want check")}
	}
	cfgPath, err := configFlag("config check", args[1:], stderr)
	if err != nil {
		return exitUsage, err
	}
	cfg, err := config.Load(*cfgPath)
	if err == nil {
		err = cfg.CheckLocal()
		if err == nil && cfg.Signing.KeyScheme == config.KeySchemeFile {
			if _, kerr := signing.LoadKeyFile(cfg.Signing.KeyPath); kerr != nil {
				err = &config.FieldError{Path: "signing.key", Msg: kerr.Error()}
			}
		}
	}
	problems := daemon.Problems(err)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%s: %s\n", *cfgPath, plural(len(problems), "problem"))
		return exitUsage, nil
	}
	fmt.Fprintf(stdout, "%s: valid (%d streams)\n", *cfgPath, len(cfg.Streams))
	return exitOK, nil
}
